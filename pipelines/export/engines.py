"""Exports for serving engines other than this app's own: a Triton Inference Server model
repository (ONNX Runtime backend) and a KServe ``InferenceService`` that serves it. Pure Python,
no Django.

Both start from the ONNX file a deployment serves (``model.onnx`` in its serving folder, verified
against the PyTorch model when the deployment was prepared). The tensors Triton is told about are
read from that ONNX graph and checked against the model card's input contract, so a config never
promises a shape the model does not take.
"""
from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .onnx_export import check_external_data
from .package import CARD_FILE, ONNX_FILE

TRITON_PLATFORM = "onnxruntime_onnx"
TRITON_CONFIG_FILE = "config.pbtxt"
TRITON_LABELS_FILE = "labels.txt"
KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
KSERVE_RUNTIMES = ("triton", "onnx")  # the predictor's model format
STORAGE_URI = re.compile(r"^(s3|gs|pvc|https?|hdfs|webhdfs|oci)://[^\s]+$")
# Kubernetes object names (DNS-1035 labels), which an InferenceService name must be.
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

# onnx.TensorProto element types -> Triton's DataType names (model_config.proto).
_TRITON_TYPES = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16",
                 6: "TYPE_INT32", 7: "TYPE_INT64", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64",
                 12: "TYPE_UINT32", 13: "TYPE_UINT64", 16: "TYPE_BF16"}
# The card's Open Inference Protocol datatypes (``input_contract``) in Triton's names.
_CARD_TYPES = {"FP32": "TYPE_FP32", "FP64": "TYPE_FP64", "FP16": "TYPE_FP16", "INT64": "TYPE_INT64",
               "INT32": "TYPE_INT32", "UINT8": "TYPE_UINT8", "BOOL": "TYPE_BOOL"}


class EngineExportError(ValueError):
    """An export an engine could not load. ``code`` is stable snake_case; ``field`` names the
    request parameter (or ``model``) that is wrong."""

    def __init__(self, code: str, message: str, field: str = "model") -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as Triton sees it: ``dims`` without the batch dimension, ``-1`` where
    the ONNX graph leaves a dimension free."""

    name: str
    data_type: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class TritonOptions:
    """``max_batch_size``: the largest batch Triton forms (the ONNX batch dimension is dynamic);
    ``max_queue_delay_us``: how long dynamic batching waits to fill a batch."""

    max_batch_size: int = 32
    max_queue_delay_us: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 4096:
            raise EngineExportError("out_of_range", "max_batch_size must be between 1 and 4096", "max_batch_size")
        if not 0 <= self.max_queue_delay_us <= 10_000_000:
            raise EngineExportError("out_of_range", "max_queue_delay_us must be between 0 and 10000000",
                                    "max_queue_delay_us")


def onnx_tensors(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The graph inputs (initializers excluded) and outputs of the ONNX file at ``path``. Raises
    ``EngineExportError`` when a tensor's first dimension is not a free batch dimension."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}

    def spec(value: Any) -> TensorSpec:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        if not dims or dims[0] != -1:
            raise EngineExportError("no_batch_dimension", f"ONNX tensor {value.name!r} has no dynamic batch "
                                                          f"dimension (shape {dims}); Triton batches on it")
        if tensor.elem_type not in _TRITON_TYPES:
            raise EngineExportError("unsupported_type", f"ONNX tensor {value.name!r} has element type "
                                                        f"{tensor.elem_type}, which Triton does not take")
        return TensorSpec(value.name, _TRITON_TYPES[tensor.elem_type], tuple(dims[1:]))

    return ([spec(v) for v in graph.input if v.name not in weights], [spec(v) for v in graph.output])


def check_contract(card: dict[str, Any], inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> None:
    """Raise ``EngineExportError`` (``contract_mismatch``) unless the ONNX tensors are the card's
    inputs and outputs: same names in order, datatypes and shapes."""
    for kind, specs in (("inputs", inputs), ("outputs", outputs)):
        promised = [(p["name"], _CARD_TYPES.get(p["datatype"], p["datatype"]), tuple(p["shape"][1:]))
                    for p in card.get(kind) or []]
        actual = [(s.name, s.data_type, s.dims) for s in specs]
        if promised != actual:
            raise EngineExportError("contract_mismatch", f"the ONNX model's {kind} {actual} are not the model "
                                                         f"card's {promised}")


def triton_config(name: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec],
                  options: TritonOptions, labelled_output: str | None = None) -> str:
    """``config.pbtxt`` (protobuf text format of Triton's ``ModelConfig``) for an ONNX model
    served by ONNX Runtime with dynamic batching. ``labelled_output``: the output whose last
    dimension the class names in ``labels.txt`` index (Triton's classification extension)."""
    lines = [f"name: {json.dumps(name)}", f'platform: "{TRITON_PLATFORM}"',
             f"max_batch_size: {options.max_batch_size}"]
    for kind, specs in (("input", inputs), ("output", outputs)):
        lines.append(f"{kind} [")
        for i, spec in enumerate(specs):
            lines += ["  {", f"    name: {json.dumps(spec.name)}", f"    data_type: {spec.data_type}"]
            if spec.dims:
                lines.append(f"    dims: [ {', '.join(str(d) for d in spec.dims)} ]")
            else:  # one value per batch item: Triton wants one dimension, reshaped away
                lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
            if spec.name == labelled_output:
                lines.append(f'    label_filename: "{TRITON_LABELS_FILE}"')
            lines.append("  }," if i < len(specs) - 1 else "  }")
        lines.append("]")
    lines += ["dynamic_batching {", f"  max_queue_delay_microseconds: {options.max_queue_delay_us}", "}"]
    return "\n".join(lines) + "\n"


def write_triton_repository(onnx_path: Path, card: dict[str, Any], name: str, repository: Path,
                            options: TritonOptions) -> Path:
    """Lay out ``repository/<name>/`` as Triton loads it: ``1/model.onnx`` (and any external
    data beside it), ``config.pbtxt``, ``labels.txt`` for a classifier, and the model card.
    Returns the model's folder. Raises ``EngineExportError`` or ``PackageError``."""
    check_external_data(onnx_path)
    inputs, outputs = onnx_tensors(onnx_path)
    check_contract(card, inputs, outputs)
    model_dir = repository / name
    version_dir = model_dir / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, version_dir / ONNX_FILE)
    for location in _external_data(onnx_path):
        (version_dir / location).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path.parent / location, version_dir / location)
    labelled = _labelled_output(card, outputs)
    if labelled is not None:
        (model_dir / TRITON_LABELS_FILE).write_text("".join(f"{c}\n" for c in card["classes"]))
    (model_dir / TRITON_CONFIG_FILE).write_text(triton_config(name, inputs, outputs, options, labelled))
    (model_dir / CARD_FILE).write_text(json.dumps({**card, "format": "triton"}, indent=1))
    return model_dir


def _labelled_output(card: dict[str, Any], outputs: Sequence[TensorSpec]) -> str | None:
    classes = card.get("classes") or []
    if card.get("task", "classification") != "classification" or len(outputs) != 1 or not classes:
        return None
    return outputs[0].name if outputs[0].dims[-1:] == (len(classes),) else None


def _external_data(path: Path) -> list[str]:
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return sorted({ExternalDataInfo(t).location for t in _get_all_tensors(model) if uses_external_data(t)})


def kserve_name(name: str) -> str:
    """A deployment name as a Kubernetes object name: lower case, ``_`` as ``-``, starting with a
    letter. Raises ``EngineExportError`` when that is still not a DNS-1035 label."""
    candidate = name.lower().replace("_", "-")
    if candidate[:1].isdigit():
        candidate = f"m-{candidate}"
    if not _DNS_LABEL.match(candidate):
        raise EngineExportError("invalid_name", f"{name!r} cannot be a Kubernetes object name", "name")
    return candidate


def kserve_inference_service(name: str, storage_uri: str, runtime: str = "triton",
                             namespace: str | None = None) -> dict[str, Any]:
    """A KServe ``InferenceService`` (v1beta1) for a model stored at ``storage_uri``.
    ``runtime="triton"``: ``storage_uri`` holds the Triton repository (``<name>/config.pbtxt``,
    ``<name>/1/model.onnx``), served by the cluster's Triton runtime with that config.
    ``runtime="onnx"``: ``storage_uri`` holds ``model.onnx``; KServe picks the runtime that serves
    the ``onnx`` format on the Open Inference Protocol (v2). Raises ``EngineExportError``."""
    if runtime not in KSERVE_RUNTIMES:
        raise EngineExportError("unknown_runtime", f"unknown runtime {runtime!r}; choose one of "
                                                   f"{', '.join(KSERVE_RUNTIMES)}", "runtime")
    if not STORAGE_URI.match(storage_uri):
        raise EngineExportError("invalid_storage_uri", f"{storage_uri!r} is not a storage URI KServe reads "
                                                       "(s3://, gs://, pvc://, https://, hdfs://, oci://)",
                                "storage_uri")
    metadata: dict[str, Any] = {"name": kserve_name(name), "labels": {"app.kubernetes.io/managed-by": "vmb"}}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": KSERVE_API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": {"model": {"modelFormat": {"name": runtime}, "protocolVersion": "v2",
                                         "storageUri": storage_uri}}},
    }
