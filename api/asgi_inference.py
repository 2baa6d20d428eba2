"""The ASGI app for ``/v2/models/...`` (config/asgi.py): the inference views of
``api.views_inference`` without Django's full handler, and a lean path for the hot request.

``FastInferenceApp`` calls the async views straight from the event loop. Django's handler runs
every request through request signals and a middleware chain in which each sync-only middleware
costs a thread hop, and session, auth, CSRF, messages and WhiteNoise do nothing for an API-key
endpoint; measured, that (plus the per-request key query) was nearly all of the endpoint's latency.

``LeanInfer`` answers the request a busy endpoint mostly sees, ``POST .../infer`` with a JSON
body from a client whose key this process verified within the key cache's TTL, for a model it
has loaded, without building a Django request at all (no header dict, URL resolver or middleware
objects), which cuts the app's time per request by about 40% (0.35 to 0.21 ms for the digits
CNN, in process). Everything else (a first request, an unknown or refused key, the binary
extension, a missing Content-Length, a host Django would refuse, a request Django would redirect
to HTTPS) goes the view path, which answers it exactly as before and warms the caches the lean
path reads.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, URLResolver
from django.urls.resolvers import RegexPattern

from builder.deploy_models import Deployment
from pipelines.serving import binary
from pipelines.serving.keycache import keys as key_cache
from pipelines.serving.protocol import ProtocolError
from pipelines.serving.runtime import LoadedModel, models

from .inference_metrics import count_request
from .views_inference import _error, _fast_route, _json, _write_metrics, check_rate, infer_answer

log = logging.getLogger(__name__)


def _never(request: HttpRequest) -> HttpResponse:  # pragma: no cover  (the middlewares below only process)
    raise RuntimeError("not called")


class FastInferenceApp:
    """An ASGI app for ``/v2/``: the async views of ``api.urls_inference`` called straight from the
    event loop, without Django's full handler (see the module). What Django's layers do that
    matters here is kept, in the same order: SecurityMiddleware's redirect and headers, the body
    size limit of ``api.middleware.RequestSizeLimitMiddleware`` (also enforced while the body
    streams in, for requests without Content-Length), CommonMiddleware's host and user-agent
    checks and Content-Length, and XFrameOptionsMiddleware's header. Keys, rate limits and the
    deployment's own size limit are checked by the views exactly as on the normal path.

    Anything that is not an async view of ``api.urls_inference`` (health, server metadata, unknown
    paths, a trailing slash) goes to ``fallback`` (Django) untouched.
    """

    def __init__(self, fallback: Callable[..., Awaitable[None]]) -> None:
        self.fallback = fallback
        self.resolver = URLResolver(RegexPattern(r"^/v2/"), "api.urls_inference")
        self.security = SecurityMiddleware(_never)
        self.common = CommonMiddleware(_never)
        self.xframe = XFrameOptionsMiddleware(_never)
        self.lean = LeanInfer(self.security, self.xframe)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v2/models/") or scope.get("root_path"):
            return await self.fallback(scope, receive, send)
        if scope["method"] == "POST":
            lean = self.lean.admit(scope)
            if lean is not None:
                declined = await self.lean.serve(lean, receive, send)
                if declined is None:
                    return
                receive = _replay(*declined, receive)  # the views answer it, from what was read on
        try:
            match = self.resolver.resolve(path)
        except Resolver404:
            return await self.fallback(scope, receive, send)
        if not iscoroutinefunction(match.func):
            return await self.fallback(scope, receive, send)
        response = await self._respond(scope, receive, match)
        if response is None:  # the client went away
            return
        await self._send(response, send)

    def _declared_length(self, scope: dict[str, Any]) -> tuple[int | None, HttpResponse | None]:
        """RequestSizeLimitMiddleware's check of the declared length (same messages)."""
        limit = settings.API_MAX_BODY_BYTES
        values = [value.decode("latin1") for name, value in scope.get("headers", []) if name.lower() == b"content-length"]
        raw = ",".join(values) or "0"  # repeated: joined, as Django's request does (then not a number)
        try:
            length = int(raw or "0")
        except ValueError:
            return None, JsonResponse({"detail": f"Content-Length {raw!r} is not a number."}, status=400)
        if length > limit:
            return None, JsonResponse({"detail": f"Request body is {length} bytes; the limit is {limit} bytes."},
                                      status=413)
        return limit, None

    async def _respond(self, scope: dict[str, Any], receive: Any, match: Any) -> HttpResponse | None:
        limit, refusal = self._declared_length(scope)
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        try:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                if refusal is None:
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:  # type: ignore[operator]
                        refusal = JsonResponse({"detail": f"Request body is over the limit of {limit} bytes."},
                                               status=413)
                    else:
                        body.write(chunk)
                if not message.get("more_body", False):
                    break
            body.seek(0)
            try:
                request = ASGIRequest(scope, body)
            except UnicodeDecodeError:
                return HttpResponseBadRequest()
            token = _fast_route.set(True)
            try:
                response = (self.security.process_request(request) or refusal
                            or self.common.process_request(request)
                            or await match.func(request, *match.args, **match.kwargs))
            except DisallowedHost:
                response = HttpResponseBadRequest()
            except PermissionDenied:
                response = HttpResponseForbidden()
            except Exception:  # noqa: BLE001  (as Django's handler: log, answer 500)
                log.exception("internal error serving %s", scope.get("path"))
                response = JsonResponse({"error": "internal server error"}, status=500)
            finally:
                _fast_route.reset(token)
            response = self.common.process_response(request, response)
            response = self.security.process_response(request, response)
            return self.xframe.process_response(request, response)
        finally:
            body.close()

    @staticmethod
    async def _send(response: HttpResponse, send: Any) -> None:
        headers = [(k.encode("ascii"), v.encode("latin1")) for k, v in response.items()]
        headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})


# ---- the lean path -----------------------------------------------------------------------------
# As Django's route patterns, anchored with \Z: "$" would also match before a trailing newline.
_INFER_PATH = re.compile(r"/v2/models/(?P<name>[-a-zA-Z0-9_]+)(?:/versions/(?P<version>[^/]+))?/infer\Z")
_READ = {b"host", b"authorization", b"x-api-key", b"content-length", binary.HEADER.lower().encode()}


_INTERNAL_ERROR = b'{"error": "internal server error"}'


class _SchemeRequest(HttpRequest):
    """A bare request that is secure or not: what SecurityMiddleware's response headers depend on."""

    def __init__(self, scheme: str) -> None:
        super().__init__()
        self._scheme = scheme

    def _get_scheme(self) -> str:
        return self._scheme


class _Lean:
    """A request the lean path has taken: its deployment, model and declared body length."""

    __slots__ = ("deployment", "length", "model", "secure")

    def __init__(self, deployment: Deployment, model: LoadedModel, length: int, secure: bool) -> None:
        self.deployment, self.model, self.length, self.secure = deployment, model, length, secure


def _replay(read: bytes, more: bool, receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """``receive`` for a request whose first ``read`` bytes were taken already."""
    pending = True

    async def replay() -> dict[str, Any]:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": read, "more_body": more}
        return await receive()

    return replay


_settings_generation = 0


def _settings_changed(**kwargs: Any) -> None:
    """Django reads these settings on every request; the lean path reads them again after a change."""
    global _settings_generation
    _settings_generation += 1


setting_changed.connect(_settings_changed, dispatch_uid="vmb-lean-infer-settings")


class LeanInfer:
    """``POST /v2/models/{name}[/versions/{v}]/infer`` from raw ASGI, for the requests the view
    path would answer the same way without a database query: see the module. ``admit`` decides from
    the headers alone (nothing is read before); ``serve`` then answers, with the view's checks
    (rate limit, JSON, tensors), its error bodies, its request count, and the security and
    X-Frame-Options headers the middlewares would add (computed by those middlewares)."""

    def __init__(self, security: SecurityMiddleware, xframe: XFrameOptionsMiddleware) -> None:
        self.security, self.xframe = security, xframe
        self._configure()

    def _configure(self) -> None:
        """What the settings decide, read now (and again after a settings change)."""
        self.generation = _settings_generation
        self.hosts: dict[bytes, bool] = {}
        self.headers: dict[bool, list[tuple[bytes, bytes]]] = {}
        self.proxy: tuple[bytes, str] | None = None
        self.usable = not (settings.USE_X_FORWARDED_HOST or settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW)
        if settings.SECURE_PROXY_SSL_HEADER:
            name, value = settings.SECURE_PROXY_SSL_HEADER
            if name.startswith("HTTP_"):
                self.proxy = (name[5:].lower().replace("_", "-").encode(), value)
            else:
                self.usable = False
        limits = [settings.API_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE]
        self.max_body = min(limit for limit in limits if limit is not None)

    def admit(self, scope: dict[str, Any]) -> _Lean | None:
        """The request, if the lean path answers it; ``None`` sends it the view path."""
        if self.generation != _settings_generation:
            self._configure()
        match = _INFER_PATH.fullmatch(scope["path"])
        if match is None or not self.usable:
            return None
        try:
            scope.get("query_string", b"").decode()  # Django's request refuses one that isn't UTF-8
        except UnicodeDecodeError:
            return None
        found: dict[bytes, bytes] = {}
        proxy = self.proxy[0] if self.proxy is not None else None
        for name, value in scope.get("headers", ()):
            name = name.lower()
            if name in _READ or name == proxy:
                if name in found:  # Django would join repeated headers: leave them to it
                    return None
                found[name] = value
        if binary.HEADER.lower().encode() in found or not self._host_ok(found.get(b"host")):
            return None
        secure = scope.get("scheme") == "https"
        if self.proxy is not None and (proxied := found.get(self.proxy[0])) is not None:
            secure = proxied.decode("latin1").split(",", 1)[0].strip() == self.proxy[1]
        if self.security.redirect and not secure:
            return None
        key = _presented_key(found)
        if not key:
            return None
        deployment = key_cache.get(match["name"], hashlib.sha256(key.encode()).hexdigest())
        if deployment is None or not deployment.folder:
            return None
        version = match["version"]
        if version is not None and version != deployment.version:
            return None
        try:
            length = int(found.get(b"content-length", b"").decode("latin1"))
        except ValueError:
            return None
        if not 0 <= length <= min(self.max_body, deployment.max_body_bytes):
            return None
        model = models.peek(f"{deployment.pk}:{deployment.version}")
        # Undeploy removes the serving folder (shared by every serving process): as in the view path,
        # a stopped deployment is noticed at once, not only after the key cache's TTL.
        if model is None or not os.path.isdir(os.path.join(settings.DEPLOY_DIR, deployment.folder)):
            return None
        return _Lean(deployment, model, length, secure)

    def _host_ok(self, host: bytes | None) -> bool:
        """Django's ``get_host`` check of the Host header, remembered per value."""
        if not host:
            return False
        ok = self.hosts.get(host)
        if ok is None:
            allowed = settings.ALLOWED_HOSTS
            if settings.DEBUG and not allowed:
                allowed = [".localhost", "127.0.0.1", "[::1]"]
            domain, _port = split_domain_port(host.decode("latin1"))
            ok = bool(domain) and validate_host(domain, allowed)
            if len(self.hosts) < 1000:
                self.hosts[host] = ok
        return ok

    async def serve(self, lean: _Lean, receive: Any, send: Any) -> tuple[bytes, bool] | None:
        """Answer the request; or, when its body is not the length it declared, hand it back to
        the views: what was read, and whether more is to come."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= lean.length:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        if size != lean.length:
            return b"".join(chunks), more
        started = time.perf_counter()  # as the views count it: from a received request
        deployment = lean.deployment
        extra: list[tuple[bytes, bytes]] = []
        ok = False
        token = _fast_route.set(True)
        try:
            try:
                check_rate(deployment)
                content, json_length = await infer_answer(deployment, lean.model, _json(b"".join(chunks)), b"")
                status = 200
                if json_length is None:
                    content_type = b"application/json"
                else:
                    content_type = binary.CONTENT_TYPE.encode()
                    extra.append((binary.HEADER.encode(), str(json_length).encode()))
                ok = True
            except ProtocolError as exc:
                refusal = _error(exc)
                status, content, content_type = refusal.status_code, refusal.content, b"application/json"
                extra = [(k.encode("ascii"), v.encode("latin1")) for k, v in refusal.items()
                         if k.lower() not in ("content-type", "content-length")]
            except Exception:  # noqa: BLE001  (as Django's handler: log, answer 500)
                log.exception("internal error serving the infer request of %s", deployment.name)
                status, content, content_type = 500, _INTERNAL_ERROR, b"application/json"
            try:
                await count_request(deployment.pk, ok, (time.perf_counter() - started) * 1000, _write_metrics)
            except Exception:  # noqa: BLE001  (the views' answer to a failed count: a JSON 500)
                log.exception("internal error counting the infer request of %s", deployment.name)
                status, content, content_type, extra = 500, _INTERNAL_ERROR, b"application/json", []
        finally:
            _fast_route.reset(token)
        headers = [(b"Content-Type", content_type), *extra, (b"Content-Length", str(len(content)).encode()),
                   *self._middleware_headers(lean.secure)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _middleware_headers(self, secure: bool) -> list[tuple[bytes, bytes]]:
        """What SecurityMiddleware and XFrameOptionsMiddleware add to a JSON response, from the
        middlewares themselves (they read the settings once, when built)."""
        cached = self.headers.get(secure)
        if cached is None:
            response = HttpResponse(b"", content_type="application/json")
            before = {k.lower() for k in response.headers}
            request = _SchemeRequest("https" if secure else "http")
            response = self.xframe.process_response(request, self.security.process_response(request, response))
            cached = self.headers[secure] = [(k.encode("ascii"), v.encode("latin1")) for k, v in response.items()
                                             if k.lower() not in before]
        return cached


def _presented_key(headers: dict[bytes, bytes]) -> str | None:
    """``api.views_inference._presented_key`` on raw headers (decoded as Django does, latin-1)."""
    header = headers.get(b"authorization", b"").decode("latin1")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin1") if key is not None else None
