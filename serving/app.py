"""The serving app: the Open Inference Protocol (KServe v2) on raw ASGI, with no Django.

``uvicorn serving.app:application`` serves it alone (compose's ``serving`` service; settings from
the environment, ``serving.settings``); config/asgi.py mounts it at ``/v2`` beside Django in the
web process. Per request: Host check, HTTPS redirect, the server's body limit on the declared
length; then for ``/v2/models/{name}``: the key against the serving index (an unknown name and a
wrong key get the same 401), the version, the shared rate limit, the deployment's body limit, the
model (loaded once per process), and the request counted for the deployment's figures. Every
refusal is JSON naming the field. The paths are published in ``serving/openapi.json``.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.serving import binary
from pipelines.serving.keyindex import ServedDeployment
from pipelines.serving.metrics import observe_inference
from pipelines.serving.predict import predict
from pipelines.serving.preprocess import Upload, parse_row, sniff
from pipelines.serving.protocol import ProtocolError, infer_response, model_metadata, parse_infer_request
from pipelines.serving.runtime import LoadedModel, models
from pipelines.serving.segment import CONTENT_TYPE as SEGMENT_CONTENT_TYPE
from pipelines.serving.segment import MaskAnswer, is_segmentation, predict_mask
from serving import http
from serving.index import KeyIndex
from serving.settings import ServingSettings
from serving.shared import RateLimiter, RedisConnections, RequestCounts
from serving.store import StoreIndex, StoreModels

log = logging.getLogger(__name__)
SERVER = {"name": "visual-model-builder", "version": "1", "extensions": ["binary_tensor_data"]}
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
# As Django's route patterns were: a slug name, any version without a slash, anchored at the end.
_MODEL_PATH = re.compile(r"/v2/models/(?P<name>[-a-zA-Z0-9_]+)(?:/versions/(?P<version>[^/]+))?"
                         r"(?P<action>/ready|/infer|/predict)?\Z")
_PUBLIC = {"/v2", "/v2/", "/v2/health/live", "/v2/health/ready", "/v2/openapi.json"}
_HEALTH = {"/v2/health/live", "/v2/health/ready"}  # answered whatever the Host or scheme (probes)
_JSON = (b"content-type", b"application/json")
# A model that answers faster than a hop to a worker thread costs runs on the event loop itself;
# a slower one (or a large batch) in a thread, so the loop keeps taking requests while it computes.
INLINE_BELOW_S = 0.0003


class ServingApp:
    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.index: KeyIndex | StoreIndex
        self.store_models: StoreModels | None = None
        if settings.store is not None:  # a shared object store: no models volume (serving/store.py)
            self.index = StoreIndex(settings.store, settings.index_poll_s)
            self.store_models = StoreModels(settings.store, settings.cache_dir or settings.models_dir / ".cache",
                                            settings.cache_bytes)
        else:
            self.index = KeyIndex(settings.models_dir)
        self.redis = RedisConnections(settings.redis_url)
        self.limiter = RateLimiter(self.redis, settings.redis_prefix)
        self.counts = RequestCounts(self.redis, settings.redis_prefix)
        self.per_sample_s: dict[str, float] = {}  # model key -> recent inference seconds per sample
        self.security = self._security_headers(secure=False)
        self.secure_security = self._security_headers(secure=True)
        self._openapi: bytes | None = None
        self._hosts: dict[bytes, bool] = {}

    def _security_headers(self, secure: bool) -> http.Headers:
        """What Django's SecurityMiddleware and XFrameOptionsMiddleware add, under the same settings."""
        headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                   (b"cross-origin-opener-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
        s = self.settings
        if secure and s.hsts_seconds:
            value = f"max-age={s.hsts_seconds}" + ("; includeSubDomains" if s.hsts_include_subdomains else "")
            headers.append((b"strict-transport-security", (value + ("; preload" if s.hsts_preload else "")).encode()))
        return headers

    # ---- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: http.Receive, send: http.Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            raise ValueError(f"the serving app speaks HTTP, not {scope['type']}")
        path: str = scope["path"]
        headers = http.header_map(scope)
        secure = self._secure(scope, headers)
        extra = self.secure_security if secure else self.security
        try:
            if path not in _HEALTH:
                if not self._host_allowed(headers.get(b"host")):
                    raise ProtocolError(400, "host", "is not one this server answers for (ALLOWED_HOSTS)",
                                        "invalid_host")
                if self.settings.ssl_redirect and not secure:
                    host = headers[b"host"].decode("latin1")
                    query = scope.get("query_string", b"")
                    location = f"https://{host}{path}" + (f"?{query.decode('latin1')}" if query else "")
                    return await http.respond(send, 301, b"", [(b"location", location.encode("latin1")), *extra])
            try:
                length = http.declared_length(headers)
            except ValueError:
                raw = headers[b"content-length"].decode("latin1")
                return await http.respond(send, 400, http.json_body({"detail": f"Content-Length {raw!r} is not a number."}),
                                          [_JSON, *extra])
            if length is not None and length > self.settings.max_body_bytes:
                detail = f"Request body is {length} bytes; the limit is {self.settings.max_body_bytes} bytes."
                return await http.respond(send, 413, http.json_body({"detail": detail}), [_JSON, *extra])
            status, body, answer_headers = await self._route(scope, headers, length, receive, path)
        except ProtocolError as exc:
            status, body, answer_headers = self._refusal(exc)
        except http.Disconnected:
            return
        except Exception:  # noqa: BLE001  (logged; the client gets a JSON 500, never a traceback)
            log.exception("internal error serving %s", path)
            status, body, answer_headers = 500, b'{"error": "internal server error"}', [_JSON]
        await http.respond(send, status, body, [*answer_headers, *extra])

    def _host_allowed(self, host: bytes | None) -> bool:
        """``http.host_allowed``, remembered per Host value (a client sends the same one each time)."""
        allowed = self._hosts.get(host) if host else None
        if allowed is None:
            allowed = http.host_allowed(host, self.settings.allowed_hosts)
            if host and len(self._hosts) < 1000:
                self._hosts[host] = allowed
        return allowed

    def _secure(self, scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
        proxy = self.settings.proxy_ssl_header
        if proxy is not None and (value := headers.get(proxy[0].encode())) is not None:
            return value.decode("latin1").split(",", 1)[0].strip() == proxy[1]
        return scope.get("scheme") == "https"

    @staticmethod
    def _refusal(exc: ProtocolError) -> tuple[int, bytes, http.Headers]:
        headers = [_JSON]
        if exc.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="inference"'))
        return exc.status, http.json_body(exc.to_dict()), headers

    async def _lifespan(self, receive: http.Receive, send: http.Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.counts.flush()  # what this process counted since its last push
                await self.redis.close()
                if isinstance(self.index, StoreIndex):
                    self.index.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- routes ------------------------------------------------------------------------------
    async def _route(self, scope: dict[str, Any], headers: dict[bytes, bytes], length: int | None,
                     receive: http.Receive, path: str) -> tuple[int, bytes, http.Headers]:
        method = scope["method"]
        if path in _PUBLIC:
            if method not in ("GET", "HEAD"):
                raise ProtocolError(405, "method", "use GET", "method_not_allowed")
            if path == "/v2/openapi.json":
                if self._openapi is None:
                    self._openapi = OPENAPI_FILE.read_bytes()
                return 200, self._openapi, [_JSON]
            public: dict[str, Any] = {"/v2/health/live": {"live": True}, "/v2/health/ready": {"ready": True}}
            return 200, http.json_body(public.get(path, SERVER)), [_JSON]
        match = _MODEL_PATH.fullmatch(path)
        if match is None:
            raise ProtocolError(404, "path", f"{path!r} is not an endpoint of this server (see /v2/openapi.json)",
                                "not_found")
        name, version, action = match["name"], match["version"], match["action"]
        wanted = "POST" if action in ("/infer", "/predict") else "GET"
        if method != wanted and not (wanted == "GET" and method == "HEAD"):
            raise ProtocolError(405, "method", f"use {wanted}", "method_not_allowed")
        deployment = self._authorize(headers, name, version)
        if action is None:
            model = await self._loaded(deployment)
            return 200, http.json_body(model_metadata(deployment.name, deployment.version, model)), [_JSON]
        if action == "/ready":
            return (200 if deployment.ready else 503), http.json_body({"name": name, "ready": deployment.ready}), [_JSON]
        started = time.perf_counter()
        ok = False
        try:
            answer = await self._served(action, deployment, headers, length, receive)
            ok = True
            return answer
        finally:
            took = time.perf_counter() - started
            self.counts.add(deployment.id, ok, took * 1000)  # the deployment's figures in the UI
            observe_inference(deployment.name, ok, took)  # Prometheus (docs/metrics.md)

    def _authorize(self, headers: dict[bytes, bytes], name: str, version: str | None) -> ServedDeployment:
        """The live deployment ``name`` if the request carries one of its keys. Without one, an
        unknown name and a deployed one get the same 401, so names cannot be probed for."""
        presented = _presented_key(headers)
        digest = hashlib.sha256(presented.encode()).hexdigest() if presented else None
        deployment = self.index.find(name, digest)
        if deployment is None:
            reason = (f"is not a key of a model deployed as {name!r} (or was revoked)" if presented
                      else "is missing: send Authorization: Bearer <key>")
            raise ProtocolError(401, "authorization", f"the API key {reason}", "unauthorized")
        if version is not None and version != deployment.version:
            raise ProtocolError(404, "version", f"model {name!r} has version {deployment.version}, not {version!r}",
                                "version_not_found")
        return deployment

    async def _loaded(self, deployment: ServedDeployment) -> LoadedModel:
        if not deployment.ready:
            raise ProtocolError(503, "name", f"model {deployment.name!r} is {deployment.status}, not ready", "not_ready")
        model = models.peek(deployment.model_key)
        if model is not None:
            return model
        folder = self.settings.models_dir / deployment.folder
        try:  # a first load (file reads, session creation) leaves the event loop
            if self.store_models is not None:
                return await asyncio.to_thread(self.store_models.load, deployment, self.settings.threads)
            return await asyncio.to_thread(models.get, deployment.model_key, folder, self.settings.threads)
        except Exception as exc:  # noqa: BLE001  (e.g. undeployed while loading: the folder is gone)
            log.exception("could not load %s from %s", deployment.name, folder)
            raise ProtocolError(503, "name", f"model {deployment.name!r} could not be loaded", "not_ready") from exc

    async def _served(self, action: str, deployment: ServedDeployment, headers: dict[bytes, bytes],
                      length: int | None, receive: http.Receive) -> tuple[int, bytes, http.Headers]:
        if not await self.limiter.allow(deployment.id, deployment.rate_limit_per_minute):
            raise ProtocolError(429, "rate", f"more than {deployment.rate_limit_per_minute} requests a minute",
                                "rate_limited")
        limit = deployment.max_body_bytes
        if length is not None and length > limit:
            raise ProtocolError(413, "body", f"{length} bytes; this deployment takes at most {limit}", "too_large")
        raw = await self._body(receive, limit)
        if action == "/infer":
            return await self._infer(deployment, headers, raw)
        return await self._predict(deployment, headers, raw)

    async def _body(self, receive: http.Receive, deployment_limit: int) -> bytes:
        server_limit = self.settings.max_body_bytes
        try:
            return await http.read_body(receive, min(server_limit, deployment_limit))
        except http.BodyTooLarge as exc:
            if deployment_limit <= server_limit:
                raise ProtocolError(413, "body", f"{exc.size} bytes or more; this deployment takes at most "
                                    f"{deployment_limit}", "too_large") from exc
            raise ProtocolError(413, "body", f"over the limit of {server_limit} bytes", "too_large") from exc

    async def _infer(self, deployment: ServedDeployment, headers: dict[bytes, bytes],
                     raw: bytes) -> tuple[int, bytes, http.Headers]:
        header_length = headers.get(binary.HEADER.lower().encode())
        if header_length is not None:
            body, tail = binary.split_request(raw, header_length.decode("latin1"))
        else:
            body, tail = http.parse_json(raw), b""
        model = await self._loaded(deployment)
        arrays, meta = parse_infer_request(body, model.card, binary=tail)
        results = await self._run(deployment.model_key, model, arrays)
        content, json_length = binary.encode_response(
            infer_response(deployment.name, deployment.version, model.card, results, meta))
        if json_length is None:
            return 200, content, [_JSON]
        return 200, content, [(b"content-type", binary.CONTENT_TYPE.encode()),
                              (binary.HEADER.lower().encode(), str(json_length).encode())]

    def _timed_infer(self, key: str, model: LoadedModel, arrays: list[np.ndarray], samples: int) -> list[np.ndarray]:
        started = time.perf_counter()
        results = model.infer(arrays)
        took = (time.perf_counter() - started) / samples
        previous = self.per_sample_s.get(key)
        self.per_sample_s[key] = took if previous is None else 0.8 * previous + 0.2 * took
        return results

    async def _run(self, key: str, model: LoadedModel, arrays: list[np.ndarray]) -> list[np.ndarray]:
        samples = max(1, int(arrays[0].shape[0]) if arrays and arrays[0].ndim else 1)
        per_sample = self.per_sample_s.get(key)
        if per_sample is not None and per_sample * samples < INLINE_BELOW_S:
            return self._timed_infer(key, model, arrays, samples)
        return await asyncio.to_thread(self._timed_infer, key, model, arrays, samples)

    async def _predict(self, deployment: ServedDeployment, headers: dict[bytes, bytes],
                       raw: bytes) -> tuple[int, bytes, http.Headers]:
        upload = _upload(headers, raw, deployment.max_body_bytes)
        model = await self._loaded(deployment)
        if is_segmentation(model):
            mask = await asyncio.to_thread(predict_mask, model, upload)
            return 200, mask.body, _mask_headers(deployment, mask)
        result = await asyncio.to_thread(predict, model, upload)
        return 200, http.json_body({"model_name": deployment.name, "model_version": deployment.version,
                                    **result}), [_JSON]


def _mask_headers(deployment: ServedDeployment, mask: MaskAnswer) -> http.Headers:
    """A predicted mask travels as a file; what JSON would have said goes in headers (ASCII JSON)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in deployment.name) or "model"
    return [(b"content-type", SEGMENT_CONTENT_TYPE.encode()),
            (b"content-disposition", f'attachment; filename="{name}-mask.nii.gz"'.encode()),
            (b"x-model-name", json.dumps(deployment.name).encode()),
            (b"x-model-version", str(deployment.version).encode("latin1", "replace")),
            (b"x-mask-shape", json.dumps(mask.shape).encode()),
            (b"x-mask-classes", json.dumps(mask.classes).encode()),
            (b"x-mask-voxels", json.dumps(mask.voxels).encode())]


def _presented_key(headers: dict[bytes, bytes]) -> str | None:
    header = headers.get(b"authorization", b"").decode("latin1")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin1") if key is not None else None


def _upload(headers: dict[bytes, bytes], raw: bytes, limit: int) -> Upload:
    """The one file of a multipart body, the raw body (its kind sniffed; a declared Content-Type
    must agree), or ``{"row": {...}}`` as JSON."""
    media, whole = http.media_type(headers)
    if media == "multipart/form-data":
        try:
            files = http.file_parts(raw, whole)
        except ValueError as exc:
            raise ProtocolError(400, "body", f"not a readable multipart body: {exc}", "invalid_multipart") from exc
        if len(files) != 1:
            raise ProtocolError(400, "file", f"send exactly one file part (got {len(files)})", "file_missing")
        part = files[0]
        if len(part.data) > limit:
            raise ProtocolError(413, part.field, f"{len(part.data)} bytes; at most {limit}", "too_large")
        return sniff(part.data, part.field, part.content_type, part.filename)
    if media == "application/json":
        return parse_row(http.parse_json(raw))
    if not raw:
        raise ProtocolError(400, "body", "empty: send a file or {\"row\": {...}}", "file_missing")
    return sniff(raw, "body", media)


def create_app(settings: ServingSettings | None = None) -> ServingApp:
    return ServingApp(settings or ServingSettings.from_env())


class _FromEnvironment:
    """``application`` for ``uvicorn serving.app:application``: built from the environment on first
    use, so importing this module reads no settings."""

    def __init__(self) -> None:
        self.app: ServingApp | None = None

    async def __call__(self, scope: dict[str, Any], receive: http.Receive, send: http.Send) -> None:
        if self.app is None:
            self.app = create_app()
        await self.app(scope, receive, send)


application = _FromEnvironment()
