"""Request body limits enforced at the ASGI layer, before Django reads or parses a byte.

Django's ASGI handler reads the whole body (into a SpooledTemporaryFile) before any middleware
or view runs, so a limit checked in Django middleware still lets a client without a login make the
server take in, and spool to disk, a body of any size. ``BodySizeLimit`` wraps the HTTP app and
answers 413 with a JSON error from the declared ``Content-Length``, and from the bytes received so
far for a body without one (chunked), then closes the connection.

Every request gets ``default_limit``. A few routes take bigger bodies (``UploadRoute``: tus chunks,
market bundles and weights files); they get their larger limit only when the request carries
credentials that name an active user (``django_credentials_valid``), checked before the body is
read, so an anonymous client can never send more than ``default_limit`` anywhere.
"""
from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authorise = Callable[[Scope], Awaitable[bool]]


@dataclass(frozen=True)
class UploadRoute:
    """A route that takes bodies up to ``limit`` bytes from an authenticated client."""

    path: re.Pattern[str]
    methods: frozenset[str]
    limit: int

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path.fullmatch(path) is not None


class BodySizeLimit:
    """Pure ASGI middleware: refuses bodies over their route's limit before the app reads them.

    ``authorise(scope)`` is awaited only for a request to an upload route whose body may exceed
    ``default_limit`` (declared larger, or no length declared); ``False`` keeps the small limit,
    and a declared length over it is answered 401 at once.
    """

    def __init__(self, app: ASGIApp, *, default_limit: int, routes: Iterable[UploadRoute] = (),
                 authorise: Authorise | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.routes = tuple(routes)
        self.authorise = authorise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared, problem = declared_length(scope.get("headers", []))
        if problem is not None:
            return await send_json(send, 400, problem)
        limit = await self._limit(scope, declared)
        if declared is not None and declared > limit:
            if limit < self._route_limit(scope):
                return await send_json(send, 401, f"Log in to send a body over {limit} bytes to this path.",
                                       extra=[(b"www-authenticate", b"Token")])
            return await send_json(send, 413, f"Request body is {declared} bytes; the limit is {limit} bytes.")
        await _Guarded(self.app, limit).run(scope, receive, send)

    def _route_limit(self, scope: Scope) -> int:
        method, path = scope.get("method", ""), scope.get("path", "")
        return max([r.limit for r in self.routes if r.matches(method, path)], default=self.default_limit)

    async def _limit(self, scope: Scope, declared: int | None) -> int:
        route_limit = self._route_limit(scope)
        if route_limit <= self.default_limit or (declared is not None and declared <= self.default_limit):
            return self.default_limit
        if self.authorise is not None and await self.authorise(scope):
            return route_limit
        return self.default_limit


class _Guarded:
    """One request: counts the body as it streams in and answers 413 when it passes ``limit``.

    The app then sees ``http.disconnect`` (Django's handler stops reading and answers nothing),
    and anything it sends afterwards is dropped; ``Connection: close`` makes the server drop the
    connection instead of reading the rest of the body.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit
        self.received = 0
        self.started = False  # the app has begun its response: too late for a 413
        self.refused = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def guarded_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.refused = True
                    if not self.started:
                        self.started = True
                        await send_json(send, 413, f"Request body is over the limit of {self.limit} bytes.")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, str | None]:
    """The ``Content-Length`` a request declares: ``(length, None)``, ``(None, None)`` when absent,
    or ``(None, problem)`` when it is not one whole number (repeated values must agree)."""
    values = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    if not values:
        return None, None
    if len(values) > 1:
        return None, "Content-Length is repeated with different values."
    raw = values.pop()
    if not raw.isdigit() or len(raw) > 19:
        return None, f"Content-Length {raw.decode('latin1')!r} is not a whole number of bytes."
    return int(raw), None


async def send_json(send: Send, status: int, detail: str,
                    extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"cache-control", b"no-store"), *extra]})
    await send({"type": "http.response.body", "body": body})


# ---- Django: the routes and the credentials check, from settings --------------------------------
def upload_routes() -> list[UploadRoute]:
    """The routes that take big authorised bodies, with their limits from settings: tus chunks
    (``PATCH`` on an upload) and the market's bundle and weights imports."""
    from django.conf import settings

    prefix = re.escape(settings.DATASET_UPLOAD_PREFIX)
    return [
        UploadRoute(re.compile(prefix + r"[0-9a-fA-F-]{32,36}/"), frozenset({"PATCH"}),
                    settings.DATASET_UPLOAD_CHUNK_MAX_BYTES),
        *(UploadRoute(re.compile(re.escape(path)), frozenset({"POST"}), settings.MARKET_UPLOAD_MAX_BYTES)
          for path in settings.MARKET_UPLOAD_PATHS),
    ]


def _header(scope: Scope, name: bytes) -> str:
    return b",".join(v for k, v in scope.get("headers", []) if k.lower() == name).decode("latin1")


def credentials_valid(authorization: str, cookie: str) -> bool:
    """Whether the token (``Authorization: Token <key>``, as DRF's TokenAuthentication reads it) or
    the session cookie names an active user. Sync (database queries)."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.conf import settings
    from django.contrib.auth import get_user
    from django.http.cookie import parse_cookie
    from rest_framework.authtoken.models import Token

    words = authorization.split()
    if len(words) == 2 and words[0].lower() == "token":
        token = Token.objects.select_related("user").filter(key=words[1]).first()
        return token is not None and token.user.is_active
    session_key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # get_user checks the session's password hash too, as AuthenticationMiddleware does.
    user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return bool(user.is_authenticated and user.is_active)


def _credentials_valid_in_request_thread(authorization: str, cookie: str) -> bool:
    from django.db import close_old_connections

    # Outside Django's handler nothing else recycles this thread's connection: do what its
    # request_started / request_finished signals do.
    close_old_connections()
    try:
        return credentials_valid(authorization, cookie)
    finally:
        close_old_connections()


async def django_credentials_valid(scope: Scope) -> bool:
    """``authorise`` for ``BodySizeLimit``: a valid token or session (one query, in a thread)."""
    from asgiref.sync import sync_to_async

    authorization, cookie = _header(scope, b"authorization"), _header(scope, b"cookie")
    if not authorization and not cookie:
        return False
    return bool(await sync_to_async(_credentials_valid_in_request_thread)(authorization, cookie))


def from_settings(app: ASGIApp) -> BodySizeLimit:
    """``app`` behind the limits of the settings: ``API_MAX_BODY_BYTES`` (Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``) for every request, and ``upload_routes()`` for logged-in ones."""
    from django.conf import settings

    return BodySizeLimit(app, default_limit=settings.API_MAX_BODY_BYTES, routes=upload_routes(),
                         authorise=django_credentials_valid)
