"""The little HTTP the serving app needs, on raw ASGI: headers, the Host check (Django's
``ALLOWED_HOSTS`` rules), security headers, reading a body within a limit, JSON answers, and
multipart/form-data with one file."""
from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pipelines.serving.protocol import ProtocolError

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# Django's host_validation_re: a name or a bracketed IPv6 address, then an optional port.
_HOST = re.compile(r"^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]+)?$")


class Disconnected(Exception):
    """The client went away before its request body arrived."""


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def header_map(scope: dict[str, Any]) -> dict[bytes, bytes]:
    """Lower-cased header names to values; a repeated header's values joined by ", " (as Django's
    request does), so a repeated Content-Length is not a number."""
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        found[name] = found[name] + b", " + value if name in found else value
    return found


def host_allowed(host: bytes | None, allowed: tuple[str, ...]) -> bool:
    """Django's ``get_host`` check: ``*`` allows any host, ``.example.com`` the domain and its
    subdomains, anything else exactly that name (any port)."""
    if not host:
        return False
    text = host.decode("latin1").lower()
    match = _HOST.match(text)
    if match is None:
        return False
    domain = match.group(1).removesuffix(".")
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or domain == pattern or (pattern.startswith(".") and
                                                   (domain.endswith(pattern) or domain == pattern[1:])):
            return True
    return False


def declared_length(headers: dict[bytes, bytes]) -> int | None:
    """The declared Content-Length (``None``: none declared). Raises ``ValueError`` for one that is
    not a non-negative number."""
    raw = headers.get(b"content-length")
    if raw is None:
        return None
    value = int(raw.decode("latin1"))
    if value < 0:
        raise ValueError(raw)
    return value


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; ``BodyTooLarge`` as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except RecursionError as exc:
        raise ProtocolError(400, "body", "JSON nested too deeply", "invalid_json") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(400, "body", f"not valid JSON: {exc}", "invalid_json") from exc


def media_type(headers: dict[bytes, bytes]) -> tuple[str, str]:
    """(the Content-Type's media type, lower case; the whole header)."""
    whole = headers.get(b"content-type", b"").decode("latin1")
    return whole.split(";", 1)[0].strip().lower(), whole


async def respond(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def json_body(data: Any) -> bytes:
    return json.dumps(data).encode()


# ---- multipart/form-data -----------------------------------------------------------------------
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_PARAM = re.compile(r'(name|filename)="([^"]*)"', re.IGNORECASE)


class FilePart:
    __slots__ = ("content_type", "data", "field", "filename")

    def __init__(self, field: str, filename: str, content_type: str, data: bytes) -> None:
        self.field, self.filename, self.content_type, self.data = field, filename, content_type, data


def file_parts(body: bytes, content_type: str) -> list[FilePart]:
    """The file parts (those with a filename) of a multipart/form-data body. Raises ``ValueError``
    for a body that is not one."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError("the Content-Type names no boundary")
    delimiter = b"--" + match.group(1).encode("latin1")
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise ValueError("the body does not end with its closing boundary")
    found = []
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n") or not section.endswith(b"\r\n"):
            raise ValueError("a part is not delimited by CRLF")
        head, separator, data = section[2:-2].partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part has no blank line after its headers")
        part_headers: dict[str, str] = {}
        for line in head.decode("latin1").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"a part header is malformed: {line[:80]!r}")
            part_headers[name.strip().lower()] = value.strip()
        params = {k.lower(): v for k, v in _PARAM.findall(part_headers.get("content-disposition", ""))}
        if "filename" in params:
            found.append(FilePart(params.get("name", "file"), params["filename"],
                                  part_headers.get("content-type", ""), data))
    return found
