"""Metrics the domain records as work happens: Celery tasks (count, outcome, duration) and the bytes
datasets ingest. Each worker process writes them to the shared multiprocess folder
(``pipelines.metrics``); ``/metrics`` on the web process adds them up (docs/metrics.md).

No Django models are imported here: ``config.celery_app`` connects the task signals when a worker
starts, before any app is ready.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from celery import signals

from pipelines.metrics import Counter, Histogram, mark_process_dead

# From a bookkeeping task (milliseconds) to a day-long training run.
TASK_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

TASKS = Counter("vmb_celery_tasks", "Celery tasks that ended, by task name and outcome "
                "(success, failure, retry, revoked).", ["task", "outcome"])
TASK_DURATION = Histogram("vmb_celery_task_duration_seconds", "Wall time of a Celery task, from start to end.",
                          ["task"], buckets=TASK_BUCKETS_S)
INGEST_BYTES = Counter("vmb_dataset_ingest_bytes", "Bytes of dataset sources (uploads and samples) "
                       "ingested successfully, by dataset kind.", ["kind"])

# task id -> when it started, in this worker process (a task starts and ends in one process).
_started: dict[str, float] = {}


def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_ended(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    name = getattr(task, "name", None) or "unknown"
    TASKS.labels(name, (state or "unknown").lower()).inc()
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)


def _task_revoked(request: Any = None, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    _started.pop(task_id or "", None)
    TASKS.labels(getattr(request, "task", None) or "unknown", "revoked").inc()


def _process_exited(**_: Any) -> None:
    mark_process_dead()


def connect_task_signals() -> None:
    """Count every task this worker runs; idempotent (each receiver is connected once)."""
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="vmb-metrics-task-prerun")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="vmb-metrics-task-postrun")
    signals.task_revoked.connect(_task_revoked, weak=False, dispatch_uid="vmb-metrics-task-revoked")
    signals.worker_process_shutdown.connect(_process_exited, weak=False, dispatch_uid="vmb-metrics-process-exit")


def source_bytes(source: Path) -> int:
    """The size of an ingest source: a file, or every file under a folder."""
    if source.is_dir():
        return sum(path.stat().st_size for path in source.rglob("*") if path.is_file())
    return source.stat().st_size


def record_ingest(kind: str, source: Path) -> None:
    """Count the bytes of a source that ingested successfully."""
    INGEST_BYTES.labels(kind).inc(source_bytes(source))
