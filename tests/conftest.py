"""Shared fixtures: API clients for two users, and a live stack (ASGI server + Celery worker)
running as separate processes against the test database and the real Redis."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from scripts.run import web_command

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")  # tests/e2e/conftest.py drives it
# s3_server and s3_bucket: a real S3-compatible server (moto in server mode) for the storage tests.
pytest_plugins = ["tests.s3"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which PostgreSQL and Redis this session uses: set, the defaults, or embedded ones it started
    (config/settings/test.py decided when pytest-django loaded the settings)."""
    from scripts.test_services import CURRENT

    return [f"services: {line}" for line in CURRENT.lines]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium, the browser tests are reported as skipped, with the command that installs
    it, and the rest runs (`make test` installs it first when run as root, as CI does)."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"browser test: no Chromium at {CHROMIUM}; install it with "
                                   "`sudo apt-get install chromium`, then run make test again")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


def poll(predicate: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    """``predicate()``'s first truthy value within ``timeout`` seconds; else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


def stop_processes(procs: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """Ask each process to stop (SIGTERM), then wait for each, killing one still running after
    ``timeout`` seconds."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for a test that talks to Channels consumers. Each call has its own event
    loop, but the process keeps one channel layer, and channels_redis binds its receive locks to
    the loop that first waited on them: a lock left from an earlier loop fails the next test
    ("bound to a different event loop"). A served process has one loop; a test gets a new layer."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        return asyncio.run(coro)
    finally:
        channel_layers.backends.clear()


@pytest.fixture
def make_user(db: None) -> Any:
    from django.contrib.auth import get_user_model

    def make(username: str, password: str = "correct-horse-battery") -> Any:
        return get_user_model().objects.create_user(username=username, password=password)

    return make


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def client_for() -> Any:
    from rest_framework.test import APIClient

    def make(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def api(alice: Any, client_for: Any) -> Any:
    return client_for(alice)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env_for_children() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL
    env["PYTHONUNBUFFERED"] = "1"
    return env


class LiveStack:
    def __init__(self, url: str, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
        self.url = url
        self.procs = procs
        self.logs = logs

    def log_tail(self, chars: int = 4000) -> str:
        return "".join(
            f"--- {name} ---\n" + (self.logs / name).read_text(errors="replace")[-chars:]
            for name in ("web.log", "worker.log")
        )


@pytest.fixture(scope="session")
def live_stack(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[LiveStack]:
    """The web server as `make run` starts it (uvicorn) and one Celery worker, as real processes
    sharing the test database."""
    logs = tmp_path_factory.mktemp("stack")
    env = _env_for_children()
    port = _free_port()
    worker_log = open(logs / "worker.log", "wb")
    web_log = open(logs / "web.log", "wb")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "cpu,gpu", "-c", "1",
             "-n", f"test{port}@%h", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            web_command("127.0.0.1", str(port)),
            cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT,
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    healthy = False
    while time.monotonic() < deadline and not healthy:
        if any(p.poll() is not None for p in procs):
            break
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
                healthy = response.status == 200
        except OSError:
            time.sleep(0.5)
    if not healthy:
        for p in procs:
            p.terminate()
        raise RuntimeError(
            "live stack did not become healthy:\n"
            + (logs / "web.log").read_text()[-3000:] + (logs / "worker.log").read_text()[-3000:]
        )
    try:
        yield LiveStack(url, procs, logs)
    finally:
        stop_processes(procs)
        worker_log.close()
        web_log.close()
        _close_stray_connections(django_db_blocker)


def _close_stray_connections(django_db_blocker: Any) -> None:
    """Connections opened in thread pools (Channels' database_sync_to_async) outlive their tests
    and would stop the test database from being dropped at the end of the session."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
