"""`make test`: real PostgreSQL and Redis: those DATABASE_URL and REDIS_URL name, else those answering
at the defaults (127.0.0.1:5432 and :6379), else embedded servers this process starts and stops
(scripts/test_services.py). The processes the tests start inherit the URLs."""
import os
import tempfile

from scripts.test_services import ensure_services

# One metrics folder per test session, inherited by its web and worker processes: never the
# var/prometheus of `make run`, nor another session's.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="vmb-metrics-"))
# Files (datasets, runs, models, the market) likewise: folders are named by database ids, which
# another session's database reuses.
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="vmb-media-"))
ensure_services(os.environ)
os.environ.setdefault("VMB_CHANNEL_PREFIX", "vmbtest")

from .base import *  # noqa: E402,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}  # noqa: F405
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
