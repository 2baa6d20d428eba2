"""``/metrics``: Prometheus text format for the whole installation (docs/metrics.md).

What every process recorded (HTTP requests here, Celery tasks and ingest bytes in the workers,
inference wherever ``/v2/`` is served) is read from the shared multiprocess folder at scrape time;
queue depth and training runs by status are measured at scrape time too, from the broker and the
database. Access: a bearer token (``VMB_METRICS_TOKEN``), a staff user's session, or a direct
loopback connection (no proxy in between).
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from pipelines.metrics import Counter, Histogram, multiprocess_dir

log = logging.getLogger(__name__)

# From a cached health check to a large upload chunk or a graph import.
HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "<unresolved>"  # no URL pattern matched, or a middleware answered before resolving
# kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
PRIORITY_KEYS = ("", "\x06\x163", "\x06\x166", "\x06\x169")

HTTP_REQUESTS = Counter("vmb_http_requests", "HTTP requests answered by Django, by view, method and status "
                        "class.", ["view", "method", "status"])
HTTP_LATENCY = Histogram("vmb_http_request_duration_seconds", "Time Django took to answer an HTTP request.",
                         ["view", "method"], buckets=HTTP_BUCKETS_S)


# ---- HTTP requests ---------------------------------------------------------------------------
def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = request.resolver_match
    # The URL pattern's name (or the view's dotted path), never the raw path: one series per route.
    view = match.view_name if match is not None else UNRESOLVED
    method = request.method if request.method in METHODS else "other"
    HTTP_REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
    HTTP_LATENCY.labels(view, method).observe(time.perf_counter() - started)


class RequestMetricsMiddleware:
    """Counts and times every request through Django. First in MIDDLEWARE, so it sees the answers
    of the other middleware too. ``/v2/`` is the serving app's (config/asgi.py), not Django's: its
    requests are counted by the inference metrics instead."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)
        _observe(request, response, started)
        return response


# ---- measured at scrape time -----------------------------------------------------------------
class QueueDepthCollector:
    """Messages waiting in each Celery queue (LLEN in the broker), and whether the broker answered.
    The queues: the default one and the training runs' (``TRAINING_QUEUES``: cpu and gpu unless renamed)."""

    def describe(self) -> list[Metric]:
        return []  # nothing at registration: the broker is asked at scrape time only

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("vmb_celery_broker_up", "1 when the broker answered this scrape, else 0.")
        depth = GaugeMetricFamily("vmb_celery_queue_length", "Tasks waiting in a Celery queue (not yet taken "
                                  "by a worker), at scrape time.", labels=["queue"])
        queues = sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *settings.TRAINING_QUEUES.values()})
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                for suffix in PRIORITY_KEYS:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics: the broker did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        finally:
            client.close()
        up.add_metric([], 1)
        step = len(PRIORITY_KEYS)
        for i, queue in enumerate(queues):
            depth.add_metric([queue], sum(lengths[i * step:(i + 1) * step]))
        yield up
        yield depth


class TrainingRunsCollector:
    """Training runs by status, counted in the database at scrape time (every status, zeros too)."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        model = apps.get_model("builder", "TrainingRun")
        statuses = [value for value, _label in model._meta.get_field("status").choices]
        counts = dict(model.objects.values_list("status").annotate(n=Count("pk")).order_by())
        family = GaugeMetricFamily("vmb_training_runs", "Training runs by status, at scrape time.",
                                   labels=["status"])
        for status in statuses:
            family.add_metric([status], counts.pop(status, 0))
        for status, n in counts.items():  # a status no longer in the choices still shows
            family.add_metric([status], n)
        yield family


def registry() -> CollectorRegistry:
    """A registry for one scrape: every process's files, plus the scrape-time collectors."""
    scrape = CollectorRegistry()
    MultiProcessCollector(scrape, path=str(multiprocess_dir()))
    scrape.register(QueueDepthCollector())
    scrape.register(TrainingRunsCollector())
    return scrape


# ---- the endpoint ----------------------------------------------------------------------------
def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _direct_loopback(request: HttpRequest) -> bool:
    """A connection from this machine with no proxy in between: a proxy on the same machine
    connects from loopback too, but says whom it forwards (deploy/nginx.conf sets both headers)."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _refusal(request: HttpRequest) -> JsonResponse | None:
    """None when the request may read the metrics; else the 401 or 403 that says how to."""
    token: str = settings.VMB_METRICS_TOKEN
    presented = _bearer(request)
    if token and presented is not None:
        if hmac.compare_digest(presented.encode(), token.encode()):
            return None
        response = JsonResponse({"detail": "the metrics token is wrong", "field": "authorization"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if getattr(request, "user", None) is not None and request.user.is_staff:
        return None
    if _direct_loopback(request):
        return None
    if token:
        response = JsonResponse({"detail": "send Authorization: Bearer <VMB_METRICS_TOKEN>",
                                 "field": "authorization"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return JsonResponse({"detail": "metrics are served to loopback and staff users only; set VMB_METRICS_TOKEN "
                         "and send Authorization: Bearer <token> to scrape from another host",
                         "field": "authorization"}, status=403)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
