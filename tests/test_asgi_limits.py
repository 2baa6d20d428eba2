"""config/asgi_limits.py: the body limits, in process (the served process is tests/integration/
test_body_limits_served.py). The wrapped app reads the body the way Django's ASGI handler does:
messages until ``more_body`` is false, stopping at ``http.disconnect``."""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from config.asgi_limits import BodySizeLimit, UploadRoute, credentials_valid, declared_length, upload_routes

LIMIT = 1000
UPLOAD = UploadRoute(re.compile(r"/upload/"), frozenset({"POST"}), 10_000)


class ReadingApp:
    """Reads the whole body, then answers 200 with its length."""

    def __init__(self) -> None:
        self.calls = 0
        self.read = 0
        self.disconnected = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(self.read).encode()})


class Client:
    """An ASGI server's side of one request: hands out ``chunks`` and records what is sent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.taken >= len(self.chunks):
            return {"type": "http.disconnect"}
        self.taken += 1
        return {"type": "http.request", "body": self.chunks[self.taken - 1], "more_body": self.taken < len(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def detail(self) -> str:
        return str(json.loads(self.sent[1]["body"])["detail"])


def serve(chunks: list[bytes], *, length: int | None = None, path: str = "/api/", method: str = "POST",
          authorised: bool | None = None, headers: list[tuple[bytes, bytes]] | None = None,
          ) -> tuple[Client, ReadingApp, list[str]]:
    asked: list[str] = []

    async def authorise(scope: Any) -> bool:
        asked.append(scope["path"])
        return bool(authorised)

    app = ReadingApp()
    guard = BodySizeLimit(app, default_limit=LIMIT, routes=[UPLOAD], authorise=authorise)
    all_headers = list(headers or [])
    if length is not None:
        all_headers.append((b"content-length", str(length).encode()))
    client = Client(chunks)
    scope = {"type": "http", "method": method, "path": path, "headers": all_headers}
    asyncio.run(guard(scope, client.receive, client.send))
    return client, app, asked


def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read() -> None:
    client, app, _ = serve([b"x" * 600] * 1000, length=600_000)
    assert client.status == 413 and client.headers[b"connection"] == b"close"
    assert client.headers[b"content-type"] == b"application/json"
    assert client.detail == f"Request body is 600000 bytes; the limit is {LIMIT} bytes."
    assert app.calls == 0 and client.taken == 0


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    client, app, asked = serve([b"x" * 400, b"y" * 600], length=1000)
    assert client.status == 200 and app.read == 1000 and not asked


@pytest.mark.parametrize("length", [None, 10])  # chunked; or a length the server did not enforce
def test_a_streamed_body_is_cut_off_once_past_the_limit(length: int | None) -> None:
    client, app, _ = serve([b"x" * 300] * 1000, length=length)
    assert client.status == 413 and client.detail == f"Request body is over the limit of {LIMIT} bytes."
    assert client.taken == 4  # 1200 bytes: the first message past the limit, and nothing after it
    assert app.disconnected and app.read == 900  # the app never sees the chunk that went over
    assert len(client.sent) == 2  # the app's own answer, if any, is dropped


def test_chunked_bodies_within_the_limit_pass() -> None:
    client, app, _ = serve([b"x" * 250] * 4)
    assert client.status == 200 and app.read == 1000


def test_upload_routes_take_big_bodies_only_from_authorised_clients() -> None:
    client, app, asked = serve([b"x" * 5000] * 2, length=10_000, path="/upload/", authorised=True)
    assert client.status == 200 and app.read == 10_000 and asked == ["/upload/"]
    client, app, _ = serve([b"x" * 5000] * 3, path="/upload/", authorised=True)  # chunked, over its limit
    assert client.status == 413 and "10000 bytes" in client.detail and app.read == 10_000


def test_an_anonymous_client_gets_the_small_limit_on_upload_routes_too() -> None:
    client, app, asked = serve([b"x" * 5000] * 2, length=10_000, path="/upload/", authorised=False)
    assert client.status == 401 and client.headers[b"www-authenticate"] == b"Token"
    assert app.calls == 0 and client.taken == 0 and asked == ["/upload/"]
    client, app, _ = serve([b"x" * 500] * 20, path="/upload/", authorised=False)  # chunked
    assert client.status == 413 and f"limit of {LIMIT} bytes" in client.detail and app.read == 1000


def test_credentials_are_checked_only_when_the_body_may_be_big() -> None:
    client, _, asked = serve([b"x" * 10], length=10, path="/upload/", authorised=False)
    assert client.status == 200 and not asked
    client, _, asked = serve([b"x" * 10], length=10_000_000, path="/other/", authorised=True)
    assert client.status == 413 and not asked
    client, _, asked = serve([b"x" * 5000] * 2, length=10_000, path="/upload/", method="PUT", authorised=True)
    assert client.status == 413 and not asked  # only the route's methods


@pytest.mark.parametrize("raw", [b"12a", b"-1", b"1e9", b"", b"99999999999999999999999"])
def test_a_content_length_that_is_not_a_number_is_a_400(raw: bytes) -> None:
    client, app, _ = serve([b"x"], headers=[(b"content-length", raw)])
    assert client.status == 400 and "Content-Length" in client.detail and app.calls == 0


def test_repeated_content_lengths_must_agree() -> None:
    assert declared_length([(b"Content-Length", b"5"), (b"content-length", b"5")]) == (5, None)
    client, _, _ = serve([b"x"], headers=[(b"content-length", b"5"), (b"content-length", b"6")])
    assert client.status == 400


def test_other_scopes_pass_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    guard = BodySizeLimit(app, default_limit=1)
    asyncio.run(guard({"type": "websocket", "path": "/ws/"}, None, None))
    asyncio.run(guard({"type": "lifespan"}, None, None))
    assert seen == ["websocket", "lifespan"]


def test_the_upload_routes_follow_the_settings(settings: Any) -> None:
    settings.DATASET_UPLOAD_CHUNK_MAX_BYTES = 123_456
    settings.MARKET_UPLOAD_MAX_BYTES = 654_321
    routes = upload_routes()

    def limit(method: str, path: str) -> int | None:
        return next((r.limit for r in routes if r.matches(method, path)), None)

    assert limit("PATCH", "/api/v1/uploads/0b7c53a4-6b43-4c2f-9a8e-1f4c0e8d2b11/") == 123_456
    assert limit("POST", "/api/v1/market/import/") == 654_321
    assert limit("POST", "/api/v1/market/import-torchvision/") == 654_321
    assert limit("POST", "/api/v1/uploads/") is None  # creating an upload sends no body
    assert limit("PATCH", "/api/v1/uploads/x/../../projects/") is None
    assert limit("POST", "/api/v1/market/import/extra") is None


def test_credentials_name_an_active_user(make_user: Any) -> None:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    carol = make_user("carol")
    key = Token.objects.create(user=carol).key
    session = SessionStore()
    session.update({SESSION_KEY: str(carol.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                    HASH_SESSION_KEY: carol.get_session_auth_hash()})
    session.create()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; other=1"
    assert credentials_valid(f"Token {key}", "")
    assert credentials_valid("", cookie)
    assert not credentials_valid("Token not-a-key", "")
    assert not credentials_valid("", f"{settings.SESSION_COOKIE_NAME}=nosuchsession")
    assert not credentials_valid("Basic abc", "")
    carol.set_password("changed-since-login")  # the session's hash no longer matches: logged out
    carol.save()
    assert not credentials_valid("", cookie)
    carol.is_active = False
    carol.save()
    assert not credentials_valid(f"Token {key}", "")
