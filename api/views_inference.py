"""The Open Inference Protocol (KServe v2) under ``/v2/``, served from the web process.

Health is public; everything under ``/v2/models/<name>`` needs one of that deployment's API keys
(``Authorization: Bearer <key>``). Views are async so that a slow model call never holds the
thread other requests need: the model runs in a worker thread, the model itself is loaded once
per process (``pipelines.serving.runtime.models``). Every refusal is JSON naming the field.
"""
from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections, connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from builder import deploy_services
from builder.deploy_models import Deployment, DeploymentKey, DeploymentStatus
from pipelines.serving import binary
from pipelines.serving.keycache import keys as key_cache
from pipelines.serving.predict import predict
from pipelines.serving.preprocess import Upload, parse_row, sniff
from pipelines.serving.protocol import ProtocolError, infer_response, model_metadata, parse_infer_request
from pipelines.serving.runtime import LoadedModel, models

from .inference_metrics import Batch, count_request, flush_metrics

log = logging.getLogger(__name__)
SERVER = {"name": "visual-model-builder", "version": "1", "extensions": ["binary_tensor_data"]}


def _error(exc: ProtocolError) -> JsonResponse:
    response = JsonResponse(exc.to_dict(), status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="inference"'
    return response


class _RateLimiter:
    """A per-process fixed one-minute window per deployment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[int, tuple[int, int]] = {}

    def allow(self, deployment_id: int, per_minute: int) -> bool:
        minute = int(time.time() // 60)
        with self.lock:
            start, count = self.windows.get(deployment_id, (minute, 0))
            if start != minute:
                start, count = minute, 0
            self.windows[deployment_id] = (start, count + 1)
            return count < per_minute


limiter = _RateLimiter()


def _presented_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-API-Key")


# Set by ``FastInferenceApp`` (the /v2/ route of config/asgi.py) for the request it serves: verified
# keys may then be served from ``key_cache``, and database work manages its own connection, since
# that route sends no request_started/request_finished signals. Requests through Django's handler
# (the test client, any other deployment) leave it False and check every key in the database.
_fast_route: contextvars.ContextVar[bool] = contextvars.ContextVar("vmb_fast_inference_route", default=False)


def _db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` for ``sync_to_async``: on the fast route, close stale connections around it the way
    Django's request signals would (CONN_MAX_AGE still applies)."""
    def run(*args: Any) -> Any:
        if not _fast_route.get() or connection.in_atomic_block:  # never close inside a transaction
            return fn(*args)
        close_old_connections()
        try:
            return fn(*args)
        finally:
            close_old_connections()
    return run


def _authorize(request: HttpRequest, name: str, version: str | None) -> Deployment:
    """The live deployment ``name`` if the request carries one of its keys; else ``ProtocolError``
    (404 unknown model or version, 401 missing, wrong, revoked or another deployment's key)."""
    presented = _presented_key(request)
    if presented:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        generation = key_cache.generation()
        key = (DeploymentKey.objects.select_related("deployment")
               .filter(digest=digest, revoked_at__isnull=True, deployment__name=name)
               .exclude(deployment__status=DeploymentStatus.STOPPED).first())
        deployment = key.deployment if key is not None else None
        if deployment is not None and deployment.status == DeploymentStatus.READY and _fast_route.get():
            key_cache.put(name, digest, deployment.pk, deployment, generation)
    else:
        deployment = None
    if deployment is None:
        if deploy_services.live_deployment(name) is None:
            raise ProtocolError(404, "name", f"no model is deployed as {name!r}", "model_not_found")
        reason = "is not a key of this deployment (or was revoked)" if presented else "is missing: send Authorization: Bearer <key>"
        raise ProtocolError(401, "authorization", f"the API key {reason}", "unauthorized")
    return _check_version(deployment, name, version)


def _check_version(deployment: Deployment, name: str, version: str | None) -> Deployment:
    if version is not None and version != deployment.version:
        raise ProtocolError(404, "version", f"model {name!r} has version {deployment.version}, not {version!r}",
                            "version_not_found")
    return deployment


async def _authorized(request: HttpRequest, name: str, version: str | None) -> Deployment:
    """``_authorize`` without leaving the event loop when the fast route has verified this key of
    this (ready) deployment within the last ``key_cache.ttl_s`` seconds."""
    if _fast_route.get():
        presented = _presented_key(request)
        if presented:
            deployment = key_cache.get(name, hashlib.sha256(presented.encode()).hexdigest())
            # Undeploy removes the serving folder (shared by every serving process): a stopped
            # deployment is noticed at once here too, not only after the cache's TTL.
            if deployment is not None and deployment.folder and (deploy_services.models_dir() / deployment.folder).is_dir():
                return _check_version(deployment, name, version)
            if deployment is not None:
                key_cache.invalidate(deployment.pk)
    return await sync_to_async(_db(_authorize))(request, name, version)


def _forget_keys(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A key or deployment saved or deleted through the ORM in this process: its cached keys go."""
    key_cache.invalidate(instance.pk if isinstance(instance, Deployment) else instance.deployment_id)


for _model in (Deployment, DeploymentKey):
    post_save.connect(_forget_keys, sender=_model, dispatch_uid=f"vmb-inference-keys-save-{_model.__name__}")
    post_delete.connect(_forget_keys, sender=_model, dispatch_uid=f"vmb-inference-keys-delete-{_model.__name__}")


def _loaded(deployment: Deployment) -> LoadedModel:
    if deployment.status != DeploymentStatus.READY:
        raise ProtocolError(503, "name", f"model {deployment.name!r} is {deployment.status}, not ready", "not_ready")
    return models.get(f"{deployment.pk}:{deployment.version}", deploy_services.models_dir() / deployment.folder,
                      settings.SERVING_THREADS)


async def _loaded_async(deployment: Deployment) -> LoadedModel:
    """``_loaded``; only a first load (file reads, session creation) leaves the event loop."""
    if deployment.status == DeploymentStatus.READY:
        model = models.peek(f"{deployment.pk}:{deployment.version}")
        if model is not None:
            return model
    return await sync_to_async(_loaded, thread_sensitive=False)(deployment)


# ---- server ----------------------------------------------------------------------------------
@require_GET
def server_metadata(request: HttpRequest) -> JsonResponse:
    return JsonResponse(SERVER)


@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"live": True})


@require_GET
def health_ready(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ready": True})


# ---- models ----------------------------------------------------------------------------------
async def model_metadata_view(request: HttpRequest, name: str, version: str | None = None) -> JsonResponse:
    if request.method != "GET":
        return JsonResponse({"error": "method: use GET", "field": "method"}, status=405)
    try:
        deployment = await _authorized(request, name, version)
        model = await _loaded_async(deployment)
    except ProtocolError as exc:
        return _error(exc)
    return JsonResponse(model_metadata(deployment.name, deployment.version, model))


async def model_ready(request: HttpRequest, name: str, version: str | None = None) -> JsonResponse:
    if request.method != "GET":
        return JsonResponse({"error": "method: use GET", "field": "method"}, status=405)
    try:
        deployment = await _authorized(request, name, version)
    except ProtocolError as exc:
        return _error(exc)
    ready = deployment.status == DeploymentStatus.READY
    return JsonResponse({"name": deployment.name, "ready": ready}, status=200 if ready else 503)


async def _served(request: HttpRequest, name: str, version: str | None, handle: Any) -> HttpResponse:
    """Authorize, run ``handle(request, deployment)`` and count the request; refusals as JSON."""
    if request.method != "POST":
        return JsonResponse({"error": "method: use POST", "field": "method"}, status=405)
    started = time.perf_counter()
    try:
        deployment = await _authorized(request, name, version)
    except ProtocolError as exc:
        return _error(exc)
    ok = False
    try:
        response: HttpResponse = await handle(request, deployment)
        ok = True
        return response
    except ProtocolError as exc:
        return _error(exc)
    finally:
        await count_request(deployment.pk, ok, (time.perf_counter() - started) * 1000, _write_metrics)


async def _write_metrics(batch: Batch | None) -> None:
    await sync_to_async(_db(flush_metrics))(batch)


@csrf_exempt
async def model_infer(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    return await _served(request, name, version, _infer)


@csrf_exempt
async def model_predict(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    return await _served(request, name, version, _predict)


def check_rate(deployment: Deployment) -> None:
    if not limiter.allow(deployment.pk, deployment.rate_limit_per_minute):
        raise ProtocolError(429, "rate", f"more than {deployment.rate_limit_per_minute} requests a minute", "rate_limited")


def _admit(request: HttpRequest, deployment: Deployment) -> None:
    """Rate and declared-size checks, before the body is read."""
    check_rate(deployment)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ProtocolError(400, "body", "Content-Length is not a number", "invalid_header") from exc
    if length > deployment.max_body_bytes:
        raise ProtocolError(413, "body", f"{length} bytes; this deployment takes at most {deployment.max_body_bytes}",
                            "too_large")


def _raw_body(request: HttpRequest, deployment: Deployment) -> bytes:
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise ProtocolError(413, "body", str(exc), "too_large") from exc
    if len(raw) > deployment.max_body_bytes:  # no Content-Length was declared
        raise ProtocolError(413, "body", f"{len(raw)} bytes; this deployment takes at most {deployment.max_body_bytes}",
                            "too_large")
    return raw


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(400, "body", f"not valid JSON: {exc}", "invalid_json") from exc


async def _infer(request: HttpRequest, deployment: Deployment) -> HttpResponse:
    _admit(request, deployment)
    raw = _raw_body(request, deployment)
    header_length = request.headers.get(binary.HEADER)
    body, tail = binary.split_request(raw, header_length) if header_length is not None else (_json(raw), b"")
    model = await _loaded_async(deployment)
    content, json_length = await infer_answer(deployment, model, body, tail)
    if json_length is None:
        return HttpResponse(content, content_type="application/json")
    response = HttpResponse(content, content_type=binary.CONTENT_TYPE)
    response[binary.HEADER] = str(json_length)
    return response


async def infer_answer(deployment: Deployment, model: LoadedModel, body: Any, tail: bytes) -> tuple[bytes, int | None]:
    """The response body of an infer request (and the length of its JSON part when it carries
    binary tensors)."""
    arrays, meta = parse_infer_request(body, model.card, binary=tail)
    results = await _run(f"{deployment.pk}:{deployment.version}", model, arrays)
    return binary.encode_response(infer_response(deployment.name, deployment.version, model.card, results, meta))


# A model that answers faster than a hop to a worker thread costs runs on the event loop itself;
# a slower one (or a large batch) in a thread, so the loop keeps taking requests while it computes.
INLINE_BELOW_S = 0.0003
_per_sample_s: dict[str, float] = {}  # deployment pk:version -> recent inference seconds per sample


def _timed_infer(key: str, model: LoadedModel, arrays: list[np.ndarray], samples: int) -> list[np.ndarray]:
    started = time.perf_counter()
    results = model.infer(arrays)
    took = (time.perf_counter() - started) / samples
    previous = _per_sample_s.get(key)
    _per_sample_s[key] = took if previous is None else 0.8 * previous + 0.2 * took
    return results


async def _run(key: str, model: LoadedModel, arrays: list[np.ndarray]) -> list[np.ndarray]:
    samples = max(1, int(arrays[0].shape[0]) if arrays and arrays[0].ndim else 1)
    per_sample = _per_sample_s.get(key)
    if per_sample is not None and per_sample * samples < INLINE_BELOW_S:
        return _timed_infer(key, model, arrays, samples)
    return await asyncio.to_thread(_timed_infer, key, model, arrays, samples)


async def _predict(request: HttpRequest, deployment: Deployment) -> HttpResponse:
    _admit(request, deployment)
    upload = await sync_to_async(_upload, thread_sensitive=False)(request, deployment)
    model = await _loaded_async(deployment)
    result = await asyncio.to_thread(predict, model, upload)
    return JsonResponse({"model_name": deployment.name, "model_version": deployment.version, **result})


def _upload(request: HttpRequest, deployment: Deployment) -> Upload:
    """The file (multipart, one part) or the raw body (its kind sniffed; a declared Content-Type
    must agree), or ``{"row": {...}}`` as JSON."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        try:
            files = list(request.FILES.items())
        except RequestDataTooBig as exc:
            raise ProtocolError(413, "body", str(exc), "too_large") from exc
        except Exception as exc:  # noqa: BLE001  (Django's multipart parser raises several types)
            raise ProtocolError(400, "body", f"not a readable multipart body: {exc}", "invalid_multipart") from exc
        if len(files) != 1:
            raise ProtocolError(400, "file", f"send exactly one file part (got {len(files)})", "file_missing")
        field, upload = files[0]
        if upload.size > deployment.max_body_bytes:
            raise ProtocolError(413, field, f"{upload.size} bytes; at most {deployment.max_body_bytes}", "too_large")
        return sniff(upload.read(), field, upload.content_type or "")
    raw = _raw_body(request, deployment)
    if content_type == "application/json":
        return parse_row(_json(raw))
    if not raw:
        raise ProtocolError(400, "body", "empty: send a file or {\"row\": {...}}", "file_missing")
    return sniff(raw, "body", content_type)
