"""The KServe v2 binary tensor extension: a JSON header of ``Inference-Header-Content-Length``
bytes, then the raw little-endian tensor bytes, for requests and responses. Large inputs such as
CT volumes travel as bytes instead of JSON numbers."""
from __future__ import annotations

import json
from typing import Any

from .protocol import ProtocolError

HEADER = "Inference-Header-Content-Length"
CONTENT_TYPE = "application/octet-stream"


def split_request(raw: bytes, header_length: str) -> tuple[Any, bytes]:
    """(the parsed JSON header, the binary bytes after it) of a binary-extension request body."""
    text = header_length.strip()
    if not text.isdigit():
        raise ProtocolError(400, HEADER, f"must be a non-negative integer, not {header_length!r}", "invalid_header")
    length = int(text)
    if length > len(raw):
        raise ProtocolError(400, HEADER, f"is {length}, the body has only {len(raw)} bytes", "invalid_header")
    try:
        body = json.loads(raw[:length] or b"null")
    except RecursionError as exc:
        raise ProtocolError(400, HEADER, "the JSON header is nested too deeply", "invalid_json") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(400, HEADER, f"the first {length} bytes are not a JSON header: {exc}",
                            "invalid_json") from exc
    return body, raw[length:]


def encode_response(response: dict[str, Any]) -> tuple[bytes, int | None]:
    """The response body and, when some outputs are binary, the JSON header's length."""
    chunk = response.pop("_binary", None)
    header = json.dumps(response, separators=(",", ":")).encode()
    if chunk is None:
        return header, None
    return header + chunk, len(header)
