"""A compressed model's own metrics: the pruned or int8 model run on the validation and test
splits of the dataset its training run used, with the metrics training reports
(``pipelines.training.metrics``), so its card never repeats its parent's figures."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)
# Most samples evaluated per split, and per forward pass: enough for a figure to two decimals,
# bounded so compressing a model of a large dataset stays quick.
MAX_SAMPLES = 4096
BATCH = 256

Runner = Callable[[Sequence[np.ndarray]], np.ndarray]


def evaluate_splits(run: Any, task: str, run_model: Runner) -> dict[str, Any]:
    """``{"val": {...}, "test": {...}, "evaluated": "..."}`` for ``run_model`` (arrays in, the
    output array out) on the run's dataset version, resized as in training. Splits without samples
    are left out; ``{}`` when the dataset's cache is gone (the figures cannot be measured)."""
    from domain.datasets.services import held_cache
    from pipelines.datasets.loader import CachedDataset
    from pipelines.training import metrics
    from pipelines.training.data import resize_to

    transform = resize_to(tuple(run.plan["resize"]) if run.plan.get("resize") else None)
    classes = len(run.dataset_version.classes)
    found: dict[str, Any] = {}
    counts = []
    try:
        with held_cache(run.dataset_version) as cache:  # not evicted between the splits
            for split in ("val", "test"):
                dataset = CachedDataset(cache, split)
                n = min(len(dataset), MAX_SAMPLES)
                if n == 0:
                    continue
                outputs, targets = [], []
                for start in range(0, n, BATCH):
                    x, y = dataset[list(range(start, min(start + BATCH, n)))]
                    x = transform(x) if transform else x
                    outputs.append(torch.from_numpy(np.asarray(run_model([x.numpy()]))))
                    targets.append(y)
                found[split] = metrics.scalars(metrics.compute(task, torch.cat(outputs), torch.cat(targets), classes))
                counts.append(f"{split} {n}")
    except Exception:  # noqa: BLE001  (a missing or unreadable cache: no figures rather than a failed model)
        log.info("could not evaluate on the dataset of run %s", run.pk, exc_info=True)
        return {}
    if found:
        found["evaluated"] = f"this model on dataset version {run.dataset_version_id} ({', '.join(counts)} samples)"
    return found


def package_runner(package: Any) -> Runner:
    """A native package run as it is served: a regressor's outputs in the target's own units."""
    module = package.serving_module()

    def run(arrays: Sequence[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = module(*(torch.from_numpy(a) for a in arrays))
        return (out[0] if isinstance(out, tuple) else out).numpy()

    return run


def onnx_runner(path: Any) -> Runner:
    from pipelines.serving.runtime import onnx_session

    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]

    def run(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(session.run(None, dict(zip(names, arrays, strict=True)))[0])

    return run
