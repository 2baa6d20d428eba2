"""The serving app (``serving/``) mounted beside Django in the web process (the embedded default):
its settings taken from Django's, and a router that sends ``/v2`` and everything under it to it."""
from __future__ import annotations

from typing import Any

from django.conf import settings

from pipelines.storage.s3 import S3Location
from serving.app import ServingApp
from serving.settings import ServingSettings


def serving_settings() -> ServingSettings:
    """The serving app's settings from Django's (one environment configures both)."""
    hosts = tuple(settings.ALLOWED_HOSTS) or ((".localhost", "127.0.0.1", "[::1]") if settings.DEBUG else ())
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy is not None:  # Django's META name (HTTP_X_FORWARDED_PROTO) as a header name
        proxy = (proxy[0].removeprefix("HTTP_").lower().replace("_", "-"), proxy[1])
    limits = [settings.API_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE]
    return ServingSettings(
        models_dir=settings.DEPLOY_DIR, redis_url=settings.REDIS_URL, redis_prefix=settings.SERVING_REDIS_PREFIX,
        allowed_hosts=hosts, max_body_bytes=min(limit for limit in limits if limit is not None),
        threads=settings.SERVING_THREADS, ssl_redirect=settings.SECURE_SSL_REDIRECT, proxy_ssl_header=proxy,
        hsts_seconds=settings.SECURE_HSTS_SECONDS, hsts_include_subdomains=settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        hsts_preload=settings.SECURE_HSTS_PRELOAD, store=_store(), cache_dir=settings.CACHE_DIR,
        cache_bytes=settings.CACHE_BYTES)


def _store() -> S3Location | None:
    """The object store Django's default storage writes to, for the serving app (None: local files)."""
    default = settings.STORAGES["default"]
    if default["BACKEND"] != settings.S3_BACKEND:
        return None
    options = default.get("OPTIONS", {})
    return S3Location(bucket=options["bucket_name"], endpoint_url=options.get("endpoint_url"),
                      access_key=options.get("access_key"), secret_key=options.get("secret_key"),
                      region=options.get("region_name"))


class ServingRouter:
    """HTTP under ``/v2`` to the serving app, the rest to ``django``."""

    def __init__(self, django: Any, serving: ServingApp | None = None) -> None:
        self.django = django
        self.serving = serving or ServingApp(serving_settings())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/v2" or path.startswith("/v2/")):
            return await self.serving(scope, receive, send)
        return await self.django(scope, receive, send)
