"""/healthz: is the database reachable, the broker up, and at least one worker answering?"""
from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = check()
        result["ok"] = True
    except Exception as exc:  # a health check reports any failure, it never raises
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
        info = client.info("server")
    finally:
        client.close()
    return {"server": info.get("valkey_version") and "valkey" or "redis",
            "version": info.get("valkey_version") or info.get("redis_version")}


def check_workers(timeout: float = 1.0) -> dict[str, Any]:
    from celery import current_app  # config.celery_app's, set as current when config is imported

    replies = current_app.control.ping(timeout=timeout) or []
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no Celery worker answered within 1 s")
    return {"workers": workers}


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker)}
    checks["worker"] = (
        _timed(check_workers)
        if checks["broker"]["ok"]
        else {"ok": False, "error": "broker unreachable"}
    )
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )
