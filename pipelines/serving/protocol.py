"""The Open Inference Protocol (KServe v2) over a loaded model: metadata, request checking and
responses, as plain dicts. Every refusal is a ``ProtocolError`` naming the field at fault."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .runtime import LoadedModel

PROTOCOL = "v2"
DATATYPES: dict[str, Any] = {
    "FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64, "INT32": np.int32,
    "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_,
}
# Types a contract input may be sent as; they are converted without loss of meaning.
_ACCEPTED = {"FP32": ("FP32", "FP64", "FP16"), "INT64": ("INT64", "INT32", "INT16", "INT8", "UINT8")}
MAX_BATCH = 1024


class ProtocolError(Exception):
    """A request the model cannot take: ``status`` (400, 404...), the ``field`` at fault
    (``inputs[0].shape``), and a message that says what was expected."""

    def __init__(self, status: int, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message
        self.code = code

    def to_dict(self) -> dict[str, Any]:
        # KServe clients read "error"; the canvas reads field and code.
        return {"error": f"{self.field}: {self.message}", "field": self.field, "code": self.code}


def model_metadata(name: str, version: str, model: LoadedModel) -> dict[str, Any]:
    card = model.card
    return {
        "name": name, "versions": [version], "platform": model.platform,
        "inputs": [{"name": i["name"], "datatype": i["datatype"], "shape": i["shape"]} for i in card["inputs"]],
        "outputs": [{"name": o["name"], "datatype": o["datatype"], "shape": o["shape"]} for o in card["outputs"]],
        "parameters": {"task": card.get("task"), "classes": card.get("classes", []),
                       "preprocessing": {i["name"]: i.get("preprocessing", {}) for i in card["inputs"]}},
    }


def parse_infer_request(body: Any, card: dict[str, Any], *, max_batch: int = MAX_BATCH,
                        binary: bytes = b"") -> tuple[list[np.ndarray], dict[str, Any]]:
    """Check an infer request against the card's input contract. ``binary`` holds the bytes after
    the JSON header of a binary-extension request (inputs with ``parameters.binary_data_size`` read
    from it in order). Returns the input arrays in the contract's order and ``{"id", "outputs",
    "binary_outputs"}`` (requested output names or ``None`` for all; names to answer in binary)."""
    if not isinstance(body, dict):
        raise ProtocolError(400, "body", "the request body must be a JSON object with 'inputs'")
    raw_inputs = body.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError(400, "inputs", "must be a non-empty list of tensors {name, shape, datatype, data}")
    contract = {spec["name"]: spec for spec in card["inputs"]}
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for index, tensor in enumerate(raw_inputs):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict):
            raise ProtocolError(400, where, "must be an object {name, shape, datatype, data}")
        name = tensor.get("name")
        if not isinstance(name, str) or name not in contract:
            raise ProtocolError(400, f"{where}.name", f"unknown input {name!r}; the model takes {sorted(contract)}")
        if name in arrays:
            raise ProtocolError(400, f"{where}.name", f"input {name!r} is given twice")
        arrays[name], offset = _tensor(tensor, contract[name], where, max_batch, binary, offset)
    if offset != len(binary):
        raise ProtocolError(400, "body", f"{len(binary) - offset} bytes after the JSON header belong to no input "
                            "(binary_data_size of the inputs adds up to less)", "binary_size_mismatch")
    missing = [n for n in contract if n not in arrays]
    if missing:
        raise ProtocolError(400, "inputs", f"missing input {missing[0]!r}")
    batches = {a.shape[0] for a in arrays.values()}
    if len(batches) > 1:
        raise ProtocolError(400, "inputs", f"inputs have different batch sizes {sorted(batches)}")
    outputs, binary_outputs = _requested_outputs(body.get("outputs"), card, _binary_flag(body, "", "binary_data_output"))
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError(400, "id", "must be a string")
    return [arrays[n] for n in contract], {"id": request_id, "outputs": outputs, "binary_outputs": binary_outputs}


def _parameters(obj: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = obj.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ProtocolError(400, f"{where}.parameters" if where else "parameters", "must be an object")
    return parameters


def _binary_flag(obj: dict[str, Any], where: str, key: str) -> bool:
    value = _parameters(obj, where).get(key, False)
    if not isinstance(value, bool):
        raise ProtocolError(400, f"{where}.parameters.{key}" if where else f"parameters.{key}", "must be true or false")
    return value


def _tensor(tensor: dict[str, Any], spec: dict[str, Any], where: str, max_batch: int, binary: bytes,
            offset: int) -> tuple[np.ndarray, int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(400, f"{where}.shape", "must be a list of non-negative integers")
    expected = spec["shape"]
    if len(shape) != len(expected) or any(e != -1 and e != s for s, e in zip(shape, expected, strict=False)):
        raise ProtocolError(400, f"{where}.shape", f"got {shape}, the model takes {expected} (-1: any batch size)")
    if shape[0] < 1 or shape[0] > max_batch:
        raise ProtocolError(400, f"{where}.shape", f"batch size must be 1 to {max_batch}, not {shape[0]}")
    datatype: str = tensor.get("datatype")  # type: ignore[assignment]  # checked just below
    if datatype not in _ACCEPTED.get(spec["datatype"], (spec["datatype"],)):
        raise ProtocolError(400, f"{where}.datatype",
                            f"got {datatype!r}, the model takes {spec['datatype']}")
    size = _parameters(tensor, where).get("binary_data_size")
    if size is not None:
        return _binary_tensor(tensor, spec, where, shape, datatype, size, binary, offset)
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ProtocolError(400, f"{where}.data", "must be a list of numbers (row-major, may be nested)")
    try:
        array = np.asarray(data, dtype=DATATYPES[datatype])
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(400, f"{where}.data", f"not a regular array of {datatype} numbers: {exc}") from exc
    if array.size != math.prod(shape):
        raise ProtocolError(400, f"{where}.data", f"holds {array.size} values, shape {shape} needs {math.prod(shape)}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ProtocolError(400, f"{where}.data", "holds NaN or infinite values")
    target = DATATYPES[spec["datatype"]]
    return np.ascontiguousarray(array.reshape(shape), dtype=target), offset


def _binary_tensor(tensor: dict[str, Any], spec: dict[str, Any], where: str, shape: list[int], datatype: str,
                   size: Any, binary: bytes, offset: int) -> tuple[np.ndarray, int]:
    """An input whose values are raw little-endian bytes at ``offset`` of the binary part."""
    field = f"{where}.parameters.binary_data_size"
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProtocolError(400, field, "must be a non-negative integer", "binary_size_mismatch")
    if "data" in tensor:
        raise ProtocolError(400, f"{where}.data", "give data or parameters.binary_data_size, not both")
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    needed = math.prod(shape) * dtype.itemsize
    if size != needed:
        raise ProtocolError(400, field, f"is {size}; shape {shape} of {datatype} needs {needed} bytes",
                            "binary_size_mismatch")
    if offset + size > len(binary):
        raise ProtocolError(400, field, f"asks for {size} bytes at offset {offset}; only {len(binary) - offset} "
                            "follow the JSON header", "binary_size_mismatch")
    array = np.frombuffer(binary, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ProtocolError(400, f"{where}.data", "holds NaN or infinite values")
    return np.ascontiguousarray(array, dtype=DATATYPES[spec["datatype"]]), offset + size


def _requested_outputs(raw: Any, card: dict[str, Any], all_binary: bool) -> tuple[list[str] | None, set[str]]:
    known = [o["name"] for o in card["outputs"]]
    if raw is None:
        return None, set(known) if all_binary else set()
    if not isinstance(raw, list):
        raise ProtocolError(400, "outputs", "must be a list of {name}")
    names: list[str] = []
    binary: set[str] = set()
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in known:
            raise ProtocolError(400, f"outputs[{index}].name", f"unknown output {name!r}; the model returns {known}")
        names.append(name)
        if all_binary or _binary_flag(item, f"outputs[{index}]", "binary_data"):
            binary.add(name)
    return names, binary


def infer_response(name: str, version: str, card: dict[str, Any], results: Sequence[np.ndarray],
                   meta: dict[str, Any]) -> dict[str, Any]:
    """The v2 response. Outputs named in ``meta["binary_outputs"]`` carry ``parameters.binary_data_size``
    instead of ``data``; their little-endian bytes, in order, are under the private key ``"_binary"``
    (``binary.encode_response`` puts them after the JSON)."""
    outputs = []
    chunks: list[bytes] = []
    wanted = meta.get("outputs")
    binary = meta.get("binary_outputs") or set()
    for spec, array in zip(card["outputs"], results, strict=False):
        if wanted is not None and spec["name"] not in wanted:
            continue
        datatype = "INT64" if array.dtype.kind in "iu" else "FP32"
        values = np.ascontiguousarray(array, dtype=np.dtype(np.float32 if datatype == "FP32" else np.int64).newbyteorder("<"))
        entry: dict[str, Any] = {"name": spec["name"], "shape": list(array.shape), "datatype": datatype}
        if spec["name"] in binary:
            chunks.append(values.tobytes())
            entry["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            entry["data"] = values.ravel().tolist()
        outputs.append(entry)
    response: dict[str, Any] = {"model_name": name, "model_version": version, "outputs": outputs}
    if meta.get("id") is not None:
        response["id"] = meta["id"]
    if chunks:
        response["_binary"] = b"".join(chunks)
    return response


def infer(model: LoadedModel, name: str, version: str, body: Any) -> dict[str, Any]:
    """Check ``body``, run the model, and build the v2 response. Raises ``ProtocolError``."""
    arrays, meta = parse_infer_request(body, model.card)
    return infer_response(name, version, model.card, model.infer(arrays), meta)
