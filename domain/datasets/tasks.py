"""The dataset ingest task: ids in, the pure runtime in ``pipelines.datasets`` does the work,
progress leaves through ``domain.events.publish`` and is kept on the version for late viewers."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import torch  # noqa: F401  (the runtime's resampling uses it; loaded once per worker process)
from celery import shared_task
from django.conf import settings

from domain.datasets import services as dataset_services
from domain.datasets.models import DatasetVersion
from domain.events import project_group, publish
from domain.jobs.models import JobStatus
from domain.metrics import record_ingest
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.report import IngestError

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5


class _Progress:
    """Publishes at most every PROGRESS_EVERY_S, and on every phase change."""

    def __init__(self, version: DatasetVersion) -> None:
        self.version = version
        self.group = project_group(version.dataset.project_id)
        self.phase = ""
        self.last = 0.0
        self.event: dict[str, Any] = {}

    def base(self) -> dict[str, Any]:
        return {"dataset": self.version.dataset_id, "version": self.version.pk, "number": self.version.number}

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < PROGRESS_EVERY_S and done != total:
            return
        self.phase, self.last = phase, now
        self.event = {"type": "dataset.progress", **self.base(), "phase": phase, "done": done, "total": total}
        dataset_services.record_progress(self.version, self.event, self.group)

    def finished(self, status: str, **extra: Any) -> dict[str, Any]:
        event = {"type": "dataset.finished", **self.base(), "status": status, **extra}
        publish(self.group, event)
        return event


@shared_task(name="datasets.ingest_dataset_version")
def ingest_dataset_version(version_id: int) -> dict[str, Any]:
    """Ingest one dataset version; it ends succeeded (with warnings when files were skipped) or
    failed, never raising."""
    version = dataset_services.begin_ingest(version_id)
    if version is None:
        return {"version": version_id, "status": "already finished"}
    progress = _Progress(version)
    progress("start", 0, 1)
    limits = dataclasses.replace(Limits.from_dict(settings.DATASET_INGEST_LIMITS),
                                 max_extract_bytes=dataset_services.extraction_budget(version))
    workdir = dataset_services.ingest_workdir(version)
    try:
        return _ingest(version, progress, limits, workdir)
    finally:
        dataset_services.drop_workdir(version, workdir)


def _ingest(version: DatasetVersion, progress: _Progress, limits: Limits, workdir: Path) -> dict[str, Any]:
    version_id = version.pk
    try:
        with dataset_services.open_source(version) as (source, name):
            result = ingest(version.dataset.kind, source, name, workdir, version.options, limits, progress,
                            keep_deidentified=dataset_services.keep_deidentified())
            record_ingest(version.dataset.kind, source)  # /metrics: vmb_dataset_ingest_bytes_total
    except IngestError as exc:
        report = exc.report
        return _failed(version, progress, exc.to_dict(), report.to_list() if report else [],
                       report.skipped_total if report else 0)
    except Exception as exc:  # the worker survives anything a file can do; the reason is kept
        log.exception("ingest of dataset version %s failed", version_id)
        return _failed(version, progress, {"code": "internal_error", "reason": f"{type(exc).__name__}: {exc}"[:1000],
                                           "file": ""})
    try:  # with a shared store, before the version is usable: a process elsewhere installs it from there
        dataset_services.publish_version(version, workdir)
    except Exception as exc:
        log.exception("publishing dataset version %s to the store failed", version_id)
        return _failed(version, progress, {"code": "not_stored", "file": "",
                                           "reason": f"the cache could not be written to the object store: "
                                                     f"{type(exc).__name__}: {exc}"[:1000]})
    if not dataset_services.finish_ingest(version, result, progress.event):
        return {"version": version_id, "status": "already finished"}
    dataset_services.discard_original(version)
    status = JobStatus.SUCCEEDED
    progress.finished(status, samples=len(result.samples), skipped=result.skipped_total,
                      warnings=result.skipped_total > 0)
    return {"version": version_id, "status": status, "samples": len(result.samples)}


def _failed(version: DatasetVersion, progress: _Progress, error: dict[str, str],
            skipped: list[dict[str, Any]] | None = None, total: int = 0) -> dict[str, Any]:
    dataset_services.fail_ingest(version, error, skipped or [], total, progress.event)
    dataset_services.discard_original(version)
    if skipped is None:
        progress.finished(JobStatus.FAILED, error=error)
    else:
        progress.finished(JobStatus.FAILED, error=error, skipped=total)
    return {"version": version.pk, "status": JobStatus.FAILED, "error": error}


@shared_task(name="datasets.expire_uploads")
def expire_uploads() -> int:
    """Delete unfinished uploads that no chunk reached for ``DATASET_UPLOAD_EXPIRE_S`` (beat, hourly)."""
    return dataset_services.expire_uploads()
