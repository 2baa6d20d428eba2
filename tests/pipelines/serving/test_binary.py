"""The binary tensor extension: inputs as raw little-endian bytes after the JSON header, outputs in
binary when asked, and malformed headers or sizes refused with the field named."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from pipelines.serving import binary
from pipelines.serving.protocol import ProtocolError, infer_response, parse_infer_request

CARD: dict[str, Any] = {"inputs": [{"name": "image", "shape": [-1, 1, 2, 2], "datatype": "FP32"}],
                        "outputs": [{"name": "logits", "shape": [-1, 3], "datatype": "FP32"}]}


def _request(x: np.ndarray, size: int | None = None, extra: bytes = b"", **body: Any) -> tuple[bytes, str]:
    raw = x.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "image", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw) if size is None else size}}],
                         **body}).encode()
    return header + raw + extra, str(len(header))


def test_binary_inputs_parse_to_the_same_array() -> None:
    x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2)
    body, tail = binary.split_request(*_request(x))
    arrays, meta = parse_infer_request(body, CARD, binary=tail)
    assert np.array_equal(arrays[0], x) and meta["binary_outputs"] == set()


def test_binary_outputs_when_asked() -> None:
    y = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    for request in ({"outputs": [{"name": "logits", "parameters": {"binary_data": True}}]},
                    {"parameters": {"binary_data_output": True}}):
        _arrays, meta = parse_infer_request({"inputs": [{"name": "image", "shape": [1, 1, 2, 2], "datatype": "FP32",
                                                         "data": [0, 0, 0, 0]}], **request}, CARD)
        content, length = binary.encode_response(infer_response("m", "1", CARD, [y], meta))
        assert length is not None
        header = json.loads(content[:length])
        assert header["outputs"][0]["parameters"] == {"binary_data_size": 12} and "data" not in header["outputs"][0]
        assert np.array_equal(np.frombuffer(content[length:], dtype="<f4").reshape(1, 3), y)


@pytest.mark.parametrize(("make", "field"), [
    (lambda x: (_request(x)[0], "abc"), binary.HEADER),
    (lambda x: (_request(x)[0], "-4"), binary.HEADER),
    (lambda x: (_request(x)[0], "999999"), binary.HEADER),
    (lambda x: (_request(x)[0], "5"), binary.HEADER),  # the JSON header is cut short
    (lambda x: _request(x, size=12), "inputs[0].parameters.binary_data_size"),
    (lambda x: _request(x, size=-1), "inputs[0].parameters.binary_data_size"),
    (lambda x: _request(x, extra=b"\x00" * 4), "body"),
])
def test_malformed_binary_requests(make: Any, field: str) -> None:
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    raw, header = make(x)
    with pytest.raises(ProtocolError) as caught:
        body, tail = binary.split_request(raw, header)
        parse_infer_request(body, CARD, binary=tail)
    assert caught.value.status == 400 and caught.value.field == field, caught.value.message


def test_a_binary_size_longer_than_the_body() -> None:
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    raw, header = _request(x)
    body, tail = binary.split_request(raw[:-4], header)
    with pytest.raises(ProtocolError) as caught:
        parse_infer_request(body, CARD, binary=tail)
    assert caught.value.field == "inputs[0].parameters.binary_data_size" and "only 12" in caught.value.message


def test_a_json_header_nested_too_deeply_is_a_400_naming_the_header() -> None:
    """json.loads raises RecursionError, not ValueError, on 100k nested arrays (issue 15)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ProtocolError) as caught:
        binary.split_request(deep + b"\x00" * 4, str(len(deep)))
    assert caught.value.status == 400 and caught.value.field == binary.HEADER
    assert "nested too deeply" in caught.value.message
