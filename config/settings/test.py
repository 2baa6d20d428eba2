"""`make test`: real PostgreSQL and Redis: those DATABASE_URL and REDIS_URL name, else those answering
at the defaults (127.0.0.1:5432 and :6379), else embedded servers this process starts and stops
(scripts/test_services.py). The processes the tests start inherit the URLs."""
import os
import tempfile

from scripts.test_services import ensure_services

# One metrics folder per test session, inherited by its web and worker processes: never the
# var/prometheus of `make run`, nor another session's.
# Under pytest-xdist (make test runs two workers) each worker is a session of its own: it makes its
# own folders below even where the controller's are inherited.
# The web servers and Celery workers a worker starts inherit what it decided (VMB_TEST_XDIST_WORKER).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
FIRST = bool(WORKER) and os.environ.get("VMB_TEST_XDIST_WORKER") != WORKER
_set = os.environ.__setitem__ if FIRST else os.environ.setdefault
_set("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="vmb-metrics-"))
# Files (datasets, runs, models, the market) likewise: folders are named by database ids, which
# another session's database reuses.
_set("MEDIA_ROOT", tempfile.mkdtemp(prefix="vmb-media-"))
ensure_services(os.environ)
os.environ.setdefault("VMB_CHANNEL_PREFIX", "vmbtest")
if FIRST:
    os.environ["VMB_TEST_XDIST_WORKER"] = WORKER
    # Its own Redis database (the URL's, plus 1 + the worker's number) and channel prefix, so its
    # Celery workers, queues, channel groups and caches never meet another xdist worker's; its own
    # PostgreSQL database comes from pytest-django (test_<name>_gw0, ...).
    from urllib.parse import urlsplit, urlunsplit

    _redis = urlsplit(os.environ["REDIS_URL"])
    _db = int(_redis.path.strip("/") or 0) + 1 + int(WORKER.removeprefix("gw"))
    os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_db % 16}"))
    os.environ["VMB_CHANNEL_PREFIX"] += f"-{WORKER}"

from .base import *  # noqa: E402,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}  # noqa: F405
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
