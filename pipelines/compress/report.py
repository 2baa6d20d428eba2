"""The before/after report of a compression: parameters, FLOPs, file size, measured CPU latency and
accuracy on given samples, and their ratios."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as st_save

from pipelines.export.package import ModelPackage

Runner = Callable[[Sequence[np.ndarray]], np.ndarray]


def measure_package(package: ModelPackage, samples: Sequence[torch.Tensor], labels: torch.Tensor | None,
                    *, repeats: int = 20) -> dict[str, Any]:
    """Params and FLOPs (batch 1, from validation), safetensors size, CPU latency and accuracy."""
    from builder.graph import validate

    report = validate(package.document, batch_size=1)
    module = package.module()

    def run(arrays: Sequence[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = module(*(torch.from_numpy(a) for a in arrays))
        return (out[0] if isinstance(out, tuple) else out).numpy()

    size = len(st_save({k: v.contiguous() for k, v in package.weights.items()}))
    return {"params": report.params, "flops": report.flops, "file_bytes": size,
            **measure_runner(run, samples, labels, repeats=repeats)}


def measure_onnx(path: Path, samples: Sequence[torch.Tensor], labels: torch.Tensor | None,
                 *, params: int | None = None, flops: int | None = None, repeats: int = 20) -> dict[str, Any]:
    """The same figures for an ONNX file run by ONNX Runtime (params/FLOPs passed through)."""
    from pipelines.serving.runtime import onnx_session

    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]

    def run(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(session.run(None, dict(zip(names, arrays, strict=True)))[0])

    return {"params": params, "flops": flops, "file_bytes": path.stat().st_size,
            **measure_runner(run, samples, labels, repeats=repeats)}


def measure_runner(run: Runner, samples: Sequence[torch.Tensor], labels: torch.Tensor | None,
                   *, repeats: int = 20) -> dict[str, Any]:
    """Median latency of one sample at batch 1 (ms) and top-1 accuracy over all samples."""
    arrays = [s.numpy() for s in samples]
    one = [a[:1] for a in arrays]
    for _ in range(3):
        run(one)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(one)
        times.append(time.perf_counter() - start)
    accuracy = None
    if labels is not None:
        logits = run(arrays)
        accuracy = float((logits.argmax(axis=-1) == labels.numpy()).mean()) if logits.ndim == 2 else None
    return {"latency_ms": round(statistics.median(times) * 1000, 4), "accuracy": accuracy}


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``before``, ``after``, each figure's before/after ratio (``> 1`` means smaller or faster after)
    and the accuracy change in points."""
    ratios = {}
    for key in ("params", "flops", "file_bytes", "latency_ms"):
        b, a = before.get(key), after.get(key)
        ratios[key] = round(b / a, 4) if b and a else None
    change = None
    if before.get("accuracy") is not None and after.get("accuracy") is not None:
        change = round(100 * (after["accuracy"] - before["accuracy"]), 3)
    return {"before": before, "after": after, "ratios": ratios, "accuracy_change_points": change}
