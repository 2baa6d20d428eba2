"""The HTTP ceiling of the serving bench: an ASGI app that reads the request and answers a fixed
body (``VMB_BARE_RESPONSE``, the endpoint's real answer) without doing anything else. Served by
the same server with the same flags and driven by the same clients as the endpoint, it measures
what the server, the loopback and the clients cost on this machine with no application at all."""
from __future__ import annotations

import os
from typing import Any

BODY = os.environ.get("VMB_BARE_RESPONSE", "{}").encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
