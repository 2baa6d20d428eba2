"""What the serving app is told: read from the environment (the same variables as the Django
settings use, so one environment configures both), or handed over by config/asgi.py from Django's
settings when the app is mounted in the web process. A bad value fails loudly at start-up."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.storage.s3 import S3Location


class SettingsError(ValueError):
    """An environment variable with a value the serving app cannot use."""


@dataclass(frozen=True)
class ServingSettings:
    models_dir: Path  # VMB_MODELS_DIR: deployment folders and the serving index
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "vmb"  # VMB_CHANNEL_PREFIX: one installation's keys in a shared Redis
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    max_body_bytes: int = 8 * 1024 * 1024  # VMB_API_MAX_BODY_BYTES: any request, before a deployment's own limit
    threads: int = 0  # VMB_SERVING_THREADS: ONNX Runtime intra-op threads per model (0: its default)
    ssl_redirect: bool = False  # plain HTTP gets a 301 to https (health paths excepted)
    proxy_ssl_header: tuple[str, str] | None = None  # (lower-case header, value) a TLS proxy sets
    hsts_seconds: int = 0
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False
    # VMB_STORAGE_BACKEND=s3 and S3_*: deployments and the index come from the store, not models_dir
    store: S3Location | None = None
    cache_dir: Path | None = None  # VMB_CACHE_DIR: the local read cache of the store's objects
    cache_bytes: int = 20 * 1024**3  # VMB_CACHE_BYTES
    index_poll_s: float = 1.0  # VMB_SERVING_INDEX_POLL_MS (in ms): how often the store's index is read again

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """The settings config/settings/ would compute from the same environment (production's
        HTTPS defaults when DJANGO_SETTINGS_MODULE names production; Django is not imported)."""
        env = os.environ if environ is None else environ
        production = env.get("DJANGO_SETTINGS_MODULE", "").endswith(".production")
        var_dir = Path(_str(env, "VMB_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var")))
        media = Path(_str(env, "MEDIA_ROOT", str(var_dir / "media")))
        hosts = [h.strip() for h in _str(env, "ALLOWED_HOSTS", "").split(",") if h.strip()]
        try:
            store = S3Location.from_env(env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        return cls(
            models_dir=Path(_str(env, "VMB_MODELS_DIR", str(media / "models"))),
            redis_url=_str(env, "REDIS_URL", "redis://127.0.0.1:6379/0"),
            redis_prefix=_str(env, "VMB_CHANNEL_PREFIX", "vmb"),
            allowed_hosts=tuple(hosts) if hosts else cls.allowed_hosts,
            max_body_bytes=_int(env, "VMB_API_MAX_BODY_BYTES", 8 * 1024 * 1024, 1024),
            threads=_int(env, "VMB_SERVING_THREADS", 0, 0),
            ssl_redirect=production and _bool(env, "SECURE_SSL_REDIRECT", True),
            proxy_ssl_header=("x-forwarded-proto", "https") if production else None,
            hsts_seconds=_int(env, "SECURE_HSTS_SECONDS", 31536000, 0) if production else 0,
            hsts_include_subdomains=production,
            hsts_preload=production and _bool(env, "SECURE_HSTS_PRELOAD", True),
            store=store,
            cache_dir=Path(_str(env, "VMB_CACHE_DIR", str(var_dir / "cache"))),
            cache_bytes=_int(env, "VMB_CACHE_BYTES", 20 * 1024**3, 1),
            index_poll_s=_int(env, "VMB_SERVING_INDEX_POLL_MS", 1000, 50) / 1000,
        )


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true or false)")
