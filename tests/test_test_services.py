"""How `make test` finds its PostgreSQL and Redis (scripts/test_services.py): a URL that is set is
kept, a default where something answers is used, and embedded servers started where nothing does
stop with the process that started them, even when it is killed. The whole session on embedded
servers runs in tests/integration/test_embedded_services.py."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from scripts import test_services
from scripts.test_services import Services, answers, ensure_services, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    """Two loopback ports where something accepts connections (the test's own sockets)."""
    sockets = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
    yield [int(sock.getsockname()[1]) for sock in sockets]
    for sock in sockets:
        sock.close()


def test_urls_that_are_set_are_kept_and_nothing_starts() -> None:
    environ = {"DATABASE_URL": "postgres://app:secret@db.example.org:5433/vmb",
               "REDIS_URL": "redis://:pw@cache.example.org:6380/2",
               # Unused defaults: were the set URLs ignored, servers would start.
               "VMB_TEST_DEFAULT_DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/test",
               "VMB_TEST_DEFAULT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    before = dict(environ)
    state = ensure_services(environ, Services())
    assert environ == before
    assert state.started == [] and state.folder is None
    assert state.lines == ["DATABASE_URL=postgres://***@db.example.org:5433/vmb (set)",
                           "REDIS_URL=redis://***@cache.example.org:6380/2 (set)"]


def test_defaults_where_something_answers_are_used(listeners: list[int]) -> None:
    database, broker = (f"postgres://postgres@127.0.0.1:{listeners[0]}/test",
                        f"redis://127.0.0.1:{listeners[1]}/0")
    environ = {"VMB_TEST_DEFAULT_DATABASE_URL": database, "VMB_TEST_DEFAULT_REDIS_URL": broker}
    state = ensure_services(environ, Services())
    assert environ["DATABASE_URL"] == database and environ["REDIS_URL"] == broker
    assert state.started == [] and state.folder is None


def test_an_empty_url_counts_as_unset(listeners: list[int]) -> None:
    broker = f"redis://127.0.0.1:{listeners[1]}/0"
    environ = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "REDIS_URL": "",
               "VMB_TEST_DEFAULT_REDIS_URL": broker}
    ensure_services(environ, Services())
    assert environ["REDIS_URL"] == broker


def test_nothing_answers_on_a_free_port() -> None:
    assert not answers(f"redis://127.0.0.1:{free_port()}/0")


_STARTER = """
import json, os, sys, time
from scripts.test_services import ensure_services
environ = {"VMB_TEST_DEFAULT_DATABASE_URL": sys.argv[1], "VMB_TEST_DEFAULT_REDIS_URL": sys.argv[2]}
state = ensure_services(environ)
print(json.dumps({"urls": [environ["DATABASE_URL"], environ["REDIS_URL"]], "folder": str(state.folder),
                  "pids": [server.process.pid for server in state.started]}), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_embedded_servers_stop_when_the_session_is_killed() -> None:
    """A test session killed with SIGKILL runs no exit handler: its servers still stop."""
    defaults = [f"postgres://postgres@127.0.0.1:{free_port()}/test", f"redis://127.0.0.1:{free_port()}/0"]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    starter = subprocess.Popen([sys.executable, "-c", _STARTER, *defaults], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()
        assert line, starter.stderr.read() if starter.stderr else ""
        started = json.loads(line)
        servers = [psutil.Process(pid) for pid in started["pids"]]
        assert len(servers) == 2 and all(server.is_running() for server in servers)
        assert all(answers(url) for url in started["urls"])
        assert not any(answers(url) for url in defaults)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(server) for server in servers):
        time.sleep(0.2)
    assert not any(_alive(server) for server in servers), [server.cmdline() for server in servers]
    assert not any(answers(url) for url in started["urls"])
    # Nothing was left to remove the folder; the next temporary-folder clean-up takes it.
    shutil.rmtree(started["folder"], ignore_errors=True)


_FORKER = """
import os, sys
from scripts.test_services import ensure_services
environ = {"VMB_TEST_DEFAULT_DATABASE_URL": sys.argv[1], "VMB_TEST_DEFAULT_REDIS_URL": sys.argv[2]}
state = ensure_services(environ)
child = os.fork()
if child == 0:
    sys.exit(0)  # runs the exit handlers, inherited from the parent
os.waitpid(child, 0)
print(" ".join(str(server.process.pid) for server in state.started), state.folder, flush=True)
"""


def test_a_forked_child_exiting_leaves_the_servers_to_their_owner() -> None:
    """A child forked from the test session (a data-loader worker, say) that exits through Python's
    exit handlers must not stop the session's servers; the session itself stops them at its exit."""
    defaults = [f"postgres://postgres@127.0.0.1:{free_port()}/test", f"redis://127.0.0.1:{free_port()}/0"]
    script = _FORKER + "assert all(s.process.poll() is None for s in state.started) and state.folder.exists()\n"
    result = subprocess.run([sys.executable, "-c", script, *defaults], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *pids, folder = result.stdout.split()
    assert len(pids) == 2 and not any(psutil.pid_exists(int(pid)) for pid in pids)
    assert not Path(folder).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="as an ordinary user PostgreSQL runs as that user")
def test_as_root_postgresql_runs_as_nobody_even_from_a_private_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL refuses root: it runs as nobody, from a copy of its binaries when they sit where
    nobody may not go (pytest's folder for root is private, as a virtualenv under /root would be)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    package = test_services.postgres_bin().parent.parent
    shutil.copytree(package, private / package.name, symlinks=True)
    shutil.copytree(package.parent / f"{package.name}.libs", private / f"{package.name}.libs")
    monkeypatch.setattr(test_services, "postgres_bin", lambda: private / package.name / "pginstall" / "bin")
    state = Services()
    environ = {"VMB_TEST_DEFAULT_DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/test",
               "REDIS_URL": "redis://127.0.0.1:1/0"}
    try:
        ensure_services(environ, state)
        [server] = state.started
        process = psutil.Process(server.process.pid)
        assert process.username() == "nobody"
        assert process.exe().startswith(str(state.folder))  # the copy
        with psycopg.connect(environ["DATABASE_URL"], connect_timeout=5) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("test",)
    finally:
        state.stop()
    assert not any(answers(url) for url in [environ["DATABASE_URL"]])


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
