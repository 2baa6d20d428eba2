"""`make run`'s launcher on the embedded default: SQLite, embedded Valkey, a worker, uvicorn.

Starts scripts/run.py as a user would (no DATABASE_URL, no REDIS_URL), checks that /, the OpenAPI
schema and a green /healthz are served, that the broker wants the password made on first start,
then sends Ctrl-C (SIGINT) and checks that it all stops.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_embedded_stack_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    port, broker_port = _free_port(), _free_port()
    env.update({"VMB_VAR_DIR": str(tmp_path / "var"), "PORT": str(port), "VMB_BROKER_PORT": str(broker_port),
                "PYTHONUNBUFFERED": "1"})
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-4000:]
            try:
                status, body = _get(base + "/healthz")
                health = json.loads(body)
                if status == 200:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(1)
        assert health.get("status") == "ok", (health, (tmp_path / "run.log").read_text()[-4000:])
        checks = health["checks"]
        assert checks["database"]["vendor"] == "sqlite"  # type: ignore[index]
        assert checks["broker"]["server"] == "valkey"  # type: ignore[index]
        assert (tmp_path / "var" / "db.sqlite3").is_file()
        status, body = _get(base + "/api/v1/schema/")
        assert status == 200 and b"openapi" in body
        status, body = _get(base + "/")
        assert status == 200 and b"Visual Model Builder" in body
        # The launcher tells the person where to go once it sees the same green /healthz.
        for _ in range(30):
            if "ready: open" in (tmp_path / "run.log").read_text():
                break
            time.sleep(0.5)
        assert f"ready: open {base}/" in (tmp_path / "run.log").read_text()
        # The web server streams request bodies (issue 15): uvicorn, not daphne.
        commands = [" ".join(child.cmdline()) for child in psutil.Process(proc.pid).children(recursive=True)]
        assert any("-m uvicorn" in c and "config.asgi:application" in c for c in commands), commands
        assert not any("daphne" in c for c in commands), commands
        # The embedded broker has a password, made on first start and readable by its owner only.
        password_file = tmp_path / "var" / "valkey.password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        password = password_file.read_text().strip()
        assert len(password) >= 32 and password not in (tmp_path / "run.log").read_text()
        anonymous = redis.Redis(port=broker_port, socket_timeout=2)
        with pytest.raises(redis.exceptions.RedisError, match="(?i)auth"):
            anonymous.ping()
        anonymous.close()
        assert redis.Redis(port=broker_port, password=password, socket_timeout=2).ping()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    # Nothing of it is left listening.
    for p in (port, broker_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still open after Ctrl-C"
