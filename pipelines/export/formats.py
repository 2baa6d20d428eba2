"""Every export format, written and then verified by loading it in its own runtime and comparing
its outputs with the PyTorch model's on real samples."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import uuid
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save_file as st_save_file

from .onnx_export import export_onnx
from .package import CARD_FILE, ModelPackage, package_from_zip, save_package

FORMATS = ("onnx", "torchscript", "bundle", "pytorch_source")
TOLERANCE = {"onnx": 1e-4, "torchscript": 1e-5, "bundle": 0.0, "pytorch_source": 1e-5}


class ExportError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ExportResult:
    format: str
    path: Path  # the file to download: .onnx, .pt or .zip
    max_abs_diff: float
    tolerance: float
    samples: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "file": self.path.name, "bytes": self.path.stat().st_size,
                "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance, "samples": self.samples,
                "passed": self.passed}


def export_package(package: ModelPackage, fmt: str, folder: Path, samples: Sequence[torch.Tensor]) -> ExportResult:
    """Export ``package`` as ``fmt`` into ``folder`` and verify it on ``samples`` (one tensor per
    input). Raises ``ExportError`` for an unknown format or a failed verification."""
    if fmt not in FORMATS:
        raise ExportError("unknown_format", f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    module = package.serving_module()
    with torch.inference_mode():
        expected = _first(module(*samples)).numpy()
    writer: Callable[[ModelPackage, Path], tuple[Path, Callable[[], np.ndarray]]] = _WRITERS[fmt]
    path, run = writer(package, folder)
    card = {**package.card, "export_format": fmt}
    (folder / CARD_FILE).write_text(json.dumps(card, indent=1))
    network = _network_units(package.card)
    diff = float(np.abs(network(run_on(run, samples)) - network(expected)).max()) if expected.size else 0.0
    result = ExportResult(fmt, path, diff, TOLERANCE[fmt], int(samples[0].shape[0]))
    if not result.passed:
        raise ExportError("parity_failed", f"the {fmt} export differs from the PyTorch model by {diff:.3g} "
                                           f"(tolerance {TOLERANCE[fmt]})")
    return result


def _network_units(card: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """Outputs as the network computes them. A regressor's exports answer in the data's units
    (2e5 for a price, where float32 steps by 0.016); parity is measured before the inverse, on
    the scale the tolerances are set for."""
    from pipelines.datasets.targets import TargetTransform

    transform = TargetTransform.from_dict(card.get("target_transform"))
    if transform is None:
        return lambda values: values
    return lambda values: transform.forward(torch.from_numpy(np.asarray(values, dtype=np.float64))).double().numpy()


def run_on(run: Any, samples: Sequence[torch.Tensor]) -> np.ndarray:
    return np.asarray(run(samples))


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _onnx(package: ModelPackage, folder: Path) -> tuple[Path, Any]:
    from pipelines.serving.runtime import onnx_session

    path = export_onnx(package, folder / "model.onnx")
    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]
    return path, lambda xs: session.run(None, {n: x.numpy() for n, x in zip(names, xs, strict=True)})[0]


def _torchscript(package: ModelPackage, folder: Path) -> tuple[Path, Any]:
    path = folder / "model.pt"
    module = package.serving_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notices
        try:
            scripted = torch.jit.script(module)
        except Exception:  # noqa: BLE001  (some graphs only trace)
            from builder.graph.compiler import example_inputs

            scripted = torch.jit.trace(module, example_inputs(package.document, batch_size=2))
        scripted.save(str(path))
        # Loading TorchScript is only ever done here, on the file this function has just written.
        loaded = torch.jit.load(str(path), map_location="cpu").eval()

    def run(xs: Sequence[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return _first(loaded(*xs)).numpy()

    return path, run


def _bundle(package: ModelPackage, folder: Path) -> tuple[Path, Any]:
    staging = save_package(package, folder / "bundle")
    path = folder / "model.zip"
    _zip(staging, path)
    shutil.rmtree(staging)
    loaded = package_from_zip(path.read_bytes()).serving_module()

    def run(xs: Sequence[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return _first(loaded(*xs)).numpy()

    return path, run


_SOURCE_README = """# {name}

Standalone PyTorch model exported by Visual Model Builder. Needs `torch` and `safetensors`:

```python
from safetensors.torch import load_file
from model import Model

model = Model()
model.load_state_dict(load_file("weights.safetensors"))
model.eval()
```

`card.json` says what the model takes (shape, dtype, preprocessing) and returns.
"""


def _source(package: ModelPackage, folder: Path) -> tuple[Path, Any]:
    from builder.graph import to_source

    staging = folder / "source"
    staging.mkdir(parents=True, exist_ok=True)
    source = to_source(package.document).replace(
        'model.load_state_dict(torch.load("weights.pt"))',
        'model.load_state_dict(safetensors.torch.load_file("weights.safetensors"))')
    source += _target_source(package.card)
    (staging / "model.py").write_text(source)
    st_save_file({k: v.contiguous() for k, v in package.weights.items()}, str(staging / "weights.safetensors"))
    (staging / CARD_FILE).write_text(json.dumps(package.card, indent=1))
    (staging / "README.md").write_text(_SOURCE_README.format(name=package.card.get("name", "model")))
    module = _import_model(staging / "model.py")
    module.load_state_dict(st_load_file(str(staging / "weights.safetensors")))
    module.eval()
    path = folder / "model_source.zip"
    _zip(staging, path)
    shutil.rmtree(staging)

    def run(xs: Sequence[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return _first(module(*xs)).numpy()

    return path, run


def _target_source(card: dict[str, Any]) -> str:
    """Python that redefines ``Model`` as the network followed by the card's target inverse (a
    subclass: the weights' names do not change), or nothing."""
    from pipelines.datasets.targets import TargetTransform

    transform = TargetTransform.from_dict(card.get("target_transform"))
    if transform is None:
        return ""
    value = f"output * {transform.std!r} + {transform.mean!r}"
    inverse = f"torch.exp({value})" if transform.kind == "log" else value
    return (f"\n\n_Network = Model\n\n\nclass Model(_Network):  # noqa: F811\n"
            f'    """The network followed by the target\'s inverse ({transform.kind}, learnt on the training '
            f'split): outputs are in the data\'s units."""\n\n'
            f"    def forward(self, *inputs):\n        output = super().forward(*inputs)\n"
            f"        return {inverse}\n")


def _import_model(path: Path) -> torch.nn.Module:
    name = f"_vmb_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    code = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(code)
        return code.Model()  # type: ignore[no-any-return]
    finally:
        sys.modules.pop(name, None)


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder).as_posix())


_WRITERS: dict[str, Any] = {"onnx": _onnx, "torchscript": _torchscript, "bundle": _bundle,
                            "pytorch_source": _source}
