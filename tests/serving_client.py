"""The serving app (``serving/``) on a real uvicorn server in a thread, on a loopback port, and a
small HTTP client for it shaped like DRF's test client (``post(path, data, format="json")``,
``response.json()``, ``response["Header"]``), so tests read as they did against Django's views."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn

from serving.app import ServingApp
from serving.settings import ServingSettings


def settings_for_test(models_dir: Path, **overrides: Any) -> ServingSettings:
    """Settings for a test server: this test's models folder, the test Redis, a fresh key prefix
    (so rate windows and counts of other tests never meet), hosts a test sends."""
    from django.conf import settings

    base = ServingSettings(models_dir=Path(models_dir), redis_url=settings.REDIS_URL,
                           redis_prefix=f"{settings.SERVING_REDIS_PREFIX}-{uuid.uuid4().hex[:8]}",
                           allowed_hosts=("testserver", "127.0.0.1", "localhost"))
    return replace(base, **overrides)


class Answer:
    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content

    def json(self) -> Any:
        return json.loads(self.content)

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def as_tuple(self) -> tuple[int, dict[str, str], bytes]:
        return self.status_code, self.headers, self.content


class ServingServer:
    """``app`` served by uvicorn (httptools, as compose runs it) until ``stop``."""

    def __init__(self, app: ServingApp) -> None:
        self.app = app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, http="httptools", lifespan="on",
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)

    def request(self, method: str, path: str, body: bytes | None = b"", headers: dict[str, str] | None = None,
                key: str | None = None, chunks: int = 0) -> Answer:
        """One request on a new connection; ``chunks``: send the body in that many chunks with no
        Content-Length (chunked transfer encoding)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        all_headers = {"Host": "testserver", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in all_headers.items():
                conn.putheader(name, value)
            body = body or b""
            if chunks:
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                size = max(1, -(-len(body) // chunks))
                for i in range(0, len(body), size):
                    piece = body[i:i + size]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                if "content-length" not in {k.lower() for k in all_headers}:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def client(self, key: str | None = None) -> V2Client:
        return V2Client(self, key)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


class V2Client:
    """DRF-test-client-shaped calls against a ``ServingServer`` with one API key."""

    def __init__(self, server: ServingServer, key: str | None) -> None:
        self.server, self.key = server, key

    def get(self, path: str, **headers: str) -> Answer:
        return self.server.request("GET", path, None, _headers(headers), self.key)

    def post(self, path: str, data: Any = None, format: str = "json", **headers: str) -> Answer:  # noqa: A002
        assert format == "json"
        return self.generic("POST", path, json.dumps(data).encode(), "application/json", **headers)

    def generic(self, method: str, path: str, data: bytes, content_type: str, **headers: str) -> Answer:
        return self.server.request(method, path, data, {"Content-Type": content_type, **_headers(headers)}, self.key)

    def multipart(self, path: str, fields: dict[str, Any]) -> Answer:
        """``fields``: name -> a string, or (filename, bytes, content type) for a file part."""
        from urllib3 import encode_multipart_formdata

        body, content_type = encode_multipart_formdata(fields)
        return self.generic("POST", path, body, content_type)


def _headers(django_style: dict[str, str]) -> dict[str, str]:
    """``HTTP_INFERENCE_HEADER_CONTENT_LENGTH="12"`` -> ``{"Inference-Header-Content-Length": "12"}``."""
    return {name.removeprefix("HTTP_").replace("_", "-").title(): value for name, value in django_style.items()}


def start(models_dir: Path, **overrides: Any) -> ServingServer:
    """Another server for this test (``stop`` it), with its own Redis prefix."""
    return ServingServer(ServingApp(settings_for_test(models_dir, **overrides)))


def serve(models_dir: Path, settings: Any, **overrides: Any) -> Iterator[ServingServer]:
    """A fixture body: a server for this test whose counts the domain folds (same Redis prefix)."""
    serving_settings = settings_for_test(models_dir, **overrides)
    settings.SERVING_REDIS_PREFIX = serving_settings.redis_prefix
    server = ServingServer(ServingApp(serving_settings))
    try:
        yield server
    finally:
        server.stop()


def hold_queued_tasks(monkeypatch: Any) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Send the tasks a transactional test's services queue (on commit) through the real broker,
    but to a queue of this test's own that no worker consumes, and return them as (name, args)
    read back from that queue. These tests run the tasks in-process, as the non-transactional ones
    do; a message on the usual queues would be taken by the live stack's worker (tests/integration)
    and run against this test's rows. The queue is deleted afterwards."""
    import json

    import redis
    from celery import current_app
    from django.conf import settings

    queue = f"held-{uuid.uuid4().hex}"
    real = current_app._get_current_object()  # noqa: SLF001  (the app itself, not the proxy)

    class OwnQueue:
        def send_task(self, name: str, args: Any = (), **options: Any) -> Any:
            return real.send_task(name, args=args, **{**options, "queue": queue})

    monkeypatch.setattr("domain.queue.current_app", OwnQueue())
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    class Held(list[tuple[str, tuple[Any, ...]]]):
        def refresh(self) -> None:
            self[:] = [(message["headers"]["task"], tuple(json.loads(_body(message))[0]))
                       for message in (json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1)))]

        def __contains__(self, item: object) -> bool:
            self.refresh()
            return super().__contains__(item)

        def __iter__(self) -> Iterator[tuple[str, tuple[Any, ...]]]:
            self.refresh()
            return super().__iter__()

    try:
        yield Held()
    finally:
        client.delete(queue)
        client.close()


def _body(message: dict[str, Any]) -> str:
    import base64

    return base64.b64decode(message["body"]).decode()
