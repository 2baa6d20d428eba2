"""`make test` on a machine with nothing on PostgreSQL's and Redis's ports (issue 20).

Runs a test session as `make test` does (pytest with config.settings.test), with DATABASE_URL and
REDIS_URL unset and their defaults pointed at ports where nothing listens. The session starts an
embedded PostgreSQL and an embedded Valkey, migrates the test database, and passes the Celery and
Channels round trips of tests/integration/test_roundtrips.py with a real worker and web server;
when it ends, no server process is left and the temporary folder is gone.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from scripts.test_services import answers, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROUND_TRIPS = [
    "tests/integration/test_roundtrips.py::test_celery_task_runs_in_a_worker_process",
    "tests/integration/test_roundtrips.py::test_websocket_ping_pong_and_task_event",
    "tests/integration/test_roundtrips.py::test_healthz_is_green_with_a_worker",
]
# Variables this session set for itself; the inner session makes its own.
OWN = {"DATABASE_URL", "REDIS_URL", "VMB_CHANNEL_PREFIX", "MEDIA_ROOT", "PROMETHEUS_MULTIPROC_DIR"}


def test_a_session_with_nothing_on_the_default_ports_runs_on_embedded_servers() -> None:
    database_default = f"postgres://postgres@127.0.0.1:{free_port()}/test"
    broker_default = f"redis://127.0.0.1:{free_port()}/0"
    assert not answers(database_default) and not answers(broker_default)
    env = {k: v for k, v in os.environ.items() if k not in OWN}
    env.update({"VMB_TEST_DEFAULT_DATABASE_URL": database_default, "VMB_TEST_DEFAULT_REDIS_URL": broker_default,
                "PYTHONUNBUFFERED": "1"})
    session = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *ROUND_TRIPS],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    output = session.stdout + session.stderr
    assert session.returncode == 0 and "3 passed" in session.stdout, output[-6000:]

    # The session's header says what it started, where, and why.
    database = re.search(r"services: DATABASE_URL=postgres://postgres@127\.0\.0\.1:(\d+)/test: embedded "
                         r"PostgreSQL (\d+)\.\d+ \(pid (\d+)\) in (\S+), started because nothing answers at "
                         + re.escape(database_default), output)
    broker = re.search(r"services: REDIS_URL=redis://127\.0\.0\.1:(\d+)/0: embedded Valkey (\S+) \(pid (\d+)\) "
                       r"in (\S+), started because nothing answers at " + re.escape(broker_default), output)
    assert database and broker, output[:3000]
    assert int(database[2]) >= 16  # the wheel's PostgreSQL, not a stub
    folder = Path(database[4])
    assert broker[4] == str(folder) and folder.name.startswith("vmb-test-services-")

    # Everything stopped with the session: the servers' processes, their ports, their folder.
    for match in (database, broker):
        assert not _runs(int(match[3]), folder, int(match[1])), f"pid {match[3]} outlived the session"
    assert not answers(f"postgres://127.0.0.1:{database[1]}/") and not answers(f"redis://127.0.0.1:{broker[1]}/")
    assert not folder.exists()
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if str(folder) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []


def _runs(pid: int, folder: Path, port: int) -> bool:
    """Whether ``pid`` is still the embedded server (not a later process that reused the number)."""
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline())
        return process.status() != psutil.STATUS_ZOMBIE and (str(folder) in command or f":{port}" in command)
    except psutil.NoSuchProcess:
        return False
