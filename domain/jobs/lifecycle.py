"""The state changes of a job (``domain.jobs.models.Job``): begin, progress, finish, fail.

Each is one conditional UPDATE on the job's row, so two workers (a re-delivered task, a reaped run
resumed elsewhere) cannot both win, and a finished job never changes again. Progress leaves through
one path: stored on the row for pages opened late, and published to the Channels group given."""
from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Q
from django.db.models.functions import Coalesce, Now

from domain.events import publish

from .models import Job, JobStatus

J = TypeVar("J", bound=Job)
LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def begin(model: type[J], pk: int, *, resume: bool = False, **fields: Any) -> bool:
    """Claim a queued job for this worker: queued -> running. ``resume`` also claims a job left
    running by a worker that died (the task was delivered again). False: someone else has it, or
    it already ended."""
    statuses = LIVE if resume else (JobStatus.QUEUED,)
    return bool(model.objects.filter(pk=pk, status__in=statuses).update(
        status=JobStatus.RUNNING, started_at=Coalesce("started_at", Now()), **fields))


def progress(model: type[J], pk: int, event: dict[str, Any], *, group: str | None = None) -> None:
    """Keep ``event`` as the running job's last progress and send it to ``group``."""
    model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(progress=event)
    if group is not None:
        publish(group, event)


def finish(model: type[J], pk: int, status: str = JobStatus.SUCCEEDED, *,
           only_from: tuple[str, ...] = LIVE, **fields: Any) -> bool:
    """End a live job once with ``status`` and ``fields``; False when it had already ended."""
    if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        raise ValueError(f"{status!r} is not a terminal job status")
    return bool(model.objects.filter(Q(pk=pk) & Q(status__in=only_from)).update(
        status=status, finished_at=Now(), **fields))


def fail(model: type[J], pk: int, error: dict[str, Any], **fields: Any) -> bool:
    """End a live job as failed with ``error`` ({code, message or reason, and the field or file
    that was wrong}); False when it had already ended."""
    return finish(model, pk, JobStatus.FAILED, error=error, **fields)
