"""Post-training int8 quantization with ONNX Runtime's tools: dynamic for linear and recurrent
layers, static (QDQ, per-channel, calibrated on real samples) for convolutional models. The result
is an ONNX file, so loading it never unpickles anything."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pipelines.export.package import CARD_FILE, ModelPackage

QuantMode = Literal["auto", "dynamic", "static"]
_CONV_TYPES = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def choose_mode(package: ModelPackage, mode: QuantMode) -> Literal["dynamic", "static"]:
    """``auto``: static when the graph has convolutions, dynamic otherwise."""
    if mode != "auto":
        return mode
    has_conv = any(n.get("type") in _CONV_TYPES for n in package.document.get("nodes", []))
    return "static" if has_conv else "dynamic"


def quantize_package(package: ModelPackage, folder: Path, *, mode: QuantMode = "auto",
                     calibration: Sequence[torch.Tensor] | None = None,
                     fp32_onnx: Path | None = None) -> tuple[Path, str]:
    """Write ``folder/model.onnx`` (the int8 model) and its ``card.json``; return the model's path
    and the mode used.
    ``calibration`` holds one tensor per input (real samples; needed for static)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    from pipelines.export.onnx_export import export_onnx

    folder.mkdir(parents=True, exist_ok=True)
    chosen = choose_mode(package, mode)
    if fp32_onnx is None:
        fp32_onnx = folder / "fp32.onnx"
        export_onnx(package, fp32_onnx)
    target = folder / "model.onnx"
    if chosen == "dynamic":
        quantize_dynamic(fp32_onnx, target, weight_type=QuantType.QInt8)
    else:
        if not calibration:
            raise ValueError("static quantization needs calibration samples")
        from pipelines.serving.runtime import onnx_session

        names = [i.name for i in onnx_session(fp32_onnx).get_inputs()]

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._batches: Iterator[dict[str, np.ndarray]] = iter(_batches(names, calibration or []))

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self._batches, None)

        quantize_static(fp32_onnx, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    if fp32_onnx.parent == folder and fp32_onnx.name == "fp32.onnx":
        fp32_onnx.unlink()
    card = {**package.card, "format": "onnx", "quantization": {"dtype": "int8", "mode": chosen}}
    (folder / CARD_FILE).write_text(json.dumps(card, indent=1))
    return target, chosen


def _batches(names: list[str], samples: Sequence[torch.Tensor], size: int = 16) -> Iterator[dict[str, np.ndarray]]:
    total = int(samples[0].shape[0])
    for start in range(0, total, size):
        yield {name: s[start:start + size].numpy() for name, s in zip(names, samples, strict=True)}
