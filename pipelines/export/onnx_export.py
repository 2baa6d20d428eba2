"""ONNX export with a dynamic batch dimension, and the check that an ONNX file's external data
stays inside its own folder (a crafted ``location`` could otherwise read any file)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from .package import ModelPackage, PackageError, input_contract

OPSET = 17


def export_onnx(package: ModelPackage, path: Path) -> Path:
    """Write ``package`` as ONNX at ``path``: inputs and outputs named as in the model card's
    contract, the first dimension of each dynamic (``batch``). A regressor's target inverse is
    part of the exported graph (``ModelPackage.serving_module``)."""
    from builder.graph.compiler import example_inputs

    module = package.serving_module()
    inputs, outputs = input_contract(package.document)
    in_names, out_names = [i["name"] for i in inputs], [o["name"] for o in outputs]
    dynamic = {name: {0: "batch"} for name in in_names + out_names}
    example = example_inputs(package.document, batch_size=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=in_names, output_names=out_names,
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    check_external_data(path)
    return path


def check_external_data(path: Path) -> None:
    """Refuse an ONNX file whose tensors point at data outside the file's folder. Raises
    ``PackageError`` (code ``external_data_outside``)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (onnx raises several types for a bad file)
        raise PackageError("unreadable", f"not a readable ONNX file: {exc}") from exc
    folder = path.parent.resolve()
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = ExternalDataInfo(tensor).location
        target = (folder / location).resolve()
        if os.path.isabs(location) or not target.is_relative_to(folder):
            raise PackageError("external_data_outside",
                               f"tensor {tensor.name!r} reads external data outside the model folder: {location!r}")
