"""What the training task does to its run: claim an attempt, heartbeat, lease devices (one
training per GPU), record progress, finish exactly once, save the artifact; and what beat does:
reap runs and leases whose worker died, send again the runs whose queued message the broker lost,
register workers. The rules a person meets (validation, create, cancel, resume) are in ``services``.

The attempt number is the claim's fencing token: ``begin_attempt`` raises it under a row lock, and
an attempt's heartbeat, progress and finish only count while the run is still running under that
number. An attempt that was reaped and claimed again elsewhere (a silent but live worker, a task
delivered twice) learns it at its next heartbeat, stops, and cannot end the run: a run never
trains twice at once."""
from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from domain.jobs import lifecycle
from domain.jobs.models import TERMINAL_STATUSES, JobStatus
from domain.queue import waiting
from domain.runs.models import DeviceLease, RunArtifact, TrainingRun, WorkerNode

from .services import enqueue, finish_run, record_event, run_queue

log = logging.getLogger(__name__)


# ---- the task's state changes ----------------------------------------------------------------------
def worker_name() -> str:
    return os.environ.get("VMB_WORKER_NAME") or socket.gethostname()


def begin_attempt(run_id: int, pid: int) -> tuple[TrainingRun | None, str]:
    """Claim a run for this process. Returns (run, "") or (None, why): ``finished``, ``busy`` (a
    live process elsewhere holds it; try later), ``cancelled`` or ``failed`` (attempts used up)."""
    host = worker_name()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_finished:
            return None, "finished"
        if run.status == JobStatus.RUNNING and not _holder_is_dead(run, host):
            return None, "busy"
        if run.cancel_requested:
            pass  # handled below, outside the lock
        elif run.attempts >= int(run.config.get("max_attempts", 3)):
            pass
        else:
            # A run whose holder died is claimed again (resume): the job lifecycle's one transition.
            lifecycle.begin(TrainingRun, run_id, resume=True, attempts=F("attempts") + 1, worker=host,
                            worker_pid=pid, heartbeat_at=timezone.now())
            run.refresh_from_db()
            return run, ""
    if run.cancel_requested:
        finish_run(run_id, JobStatus.CANCELLED)
        return None, "cancelled"
    finish_run(run_id, JobStatus.FAILED, error={"code": "too_many_attempts",
                                                "message": f"the run crashed {run.attempts} times"})
    return None, "failed"


def _holder_is_dead(run: TrainingRun, host: str) -> bool:
    return _is_dead(run.worker, run.worker_pid, run.heartbeat_at, host)


def _is_dead(holder_host: str, pid: int | None, heartbeat_at: Any, host: str) -> bool:
    """A holder is dead when its heartbeat is stale, or when it ran on this host and its process is gone."""
    if heartbeat_at is None or heartbeat_at < timezone.now() - timedelta(seconds=settings.TRAINING_STALE_AFTER_S):
        return True
    if holder_host == host and pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def heartbeat(run_id: int, pid: int, attempt: int | None = None) -> bool:
    """Refresh the run's heartbeat and its device leases; returns whether the attempt must stop: a
    cancel was requested, or (``attempt`` given) the run is no longer running under this attempt
    (reaped, claimed by another worker)."""
    now = timezone.now()
    held = TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING, worker_pid=pid)
    if attempt is not None:
        held = held.filter(attempts=attempt, worker=worker_name())
    refreshed = held.update(heartbeat_at=now)
    DeviceLease.objects.filter(run_id=run_id, pid=pid).update(heartbeat_at=now)
    if attempt is not None and not refreshed:
        return True
    return bool(TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists())


def holds(run_id: int, attempt: int) -> bool:
    """Whether the run is still running under ``attempt`` (the claim this process made)."""
    return TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING, attempts=attempt).exists()


def touch_queued(run_id: int) -> None:
    """A queued run's task was sent again (a retry while its device is busy): its message is alive,
    so ``resend_lost_runs`` leaves it alone for another ``TRAINING_RESEND_AFTER_S``."""
    TrainingRun.objects.filter(pk=run_id, status=JobStatus.QUEUED).update(heartbeat_at=timezone.now())


# ---- device leases: one training per GPU -------------------------------------------------------------
def cpu_slots() -> int:
    """How many exclusive CPU "devices" a worker host has (``VMB_TRAINING_CPU_SLOTS``; 0, the
    default, shares the CPU between trainings without leases)."""
    raw = os.environ.get("VMB_TRAINING_CPU_SLOTS", "0")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"VMB_TRAINING_CPU_SLOTS must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"VMB_TRAINING_CPU_SLOTS must be 0 or more, not {value}")
    return value


def acquire_devices(run_id: int, pid: int, slots: list[tuple[int, str]], count: int) -> list[DeviceLease] | None:
    """Lease ``count`` of this host's ``slots`` (``(index, key)`` pairs, see
    ``devices.device_slots``) for a run's process. Returns the leases, or None when not enough
    are free. A lease whose holder is dead (stale heartbeat, process gone, run finished) is taken
    over. Two processes racing for one device both try to insert its row; the unique constraint
    lets one win."""
    host = worker_name()
    now = timezone.now()
    try:
        with transaction.atomic():
            held = {lease.device: lease for lease in DeviceLease.objects.select_for_update().select_related("run")
                    .filter(host=host, device__in=[key for _index, key in slots])}
            free = [(index, key) for index, key in slots
                    if key not in held or _lease_is_stale(held[key], host)]
            if len(free) < count:
                return None
            chosen = free[:count]
            DeviceLease.objects.filter(host=host, device__in=[key for _index, key in chosen]).delete()
            return [DeviceLease.objects.create(host=host, device=key, index=index, run_id=run_id, pid=pid,
                                               heartbeat_at=now) for index, key in chosen]
    except IntegrityError:  # another process inserted one of these rows first
        return None


def _lease_is_stale(lease: DeviceLease, host: str) -> bool:
    # A redelivered task whose earlier process died finds that process's lease here: it is stale too.
    return lease.run.is_finished or _is_dead(lease.host, lease.pid, lease.heartbeat_at, host)


def release_devices(run_id: int, pid: int) -> int:
    """Give back the devices a run's process holds; returns how many."""
    deleted, _ = DeviceLease.objects.filter(run_id=run_id, pid=pid).delete()
    return deleted


def reap_stale_leases() -> int:
    """Delete leases whose holder stopped sending heartbeats or whose run has ended."""
    cutoff = timezone.now() - timedelta(seconds=settings.TRAINING_STALE_AFTER_S)
    deleted, _ = DeviceLease.objects.filter(Q(heartbeat_at__lt=cutoff) | Q(run__status__in=TERMINAL_STATUSES)).delete()
    return deleted


def record_progress(run_id: int, attempt: int | None = None, **fields: Any) -> None:
    """Keep the running run's figures (epoch, step, metrics, ``progress``) for late viewers; the
    task sends the event itself, as a stored run event (``record_event``). With ``attempt``, only
    while the run is still running under it."""
    running = TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING)
    if attempt is not None:
        running = running.filter(attempts=attempt)
    running.update(**fields)



def save_artifact(run: TrainingRun, weights_path: Path, sha256: str, metrics: dict[str, Any],
                  preprocessing: dict[str, Any]) -> RunArtifact:
    relative = weights_path.relative_to(Path(settings.TRAINING_RUNS_DIR)).as_posix()
    artifact, _ = RunArtifact.objects.update_or_create(run=run, defaults={
        "graph_version": run.graph_version, "weights_path": relative, "weights_sha256": sha256,
        "metrics": metrics, "config": run.config, "preprocessing": preprocessing,
        "classes": list(run.dataset_version.classes)})
    return artifact


def reap_stale_runs() -> list[int]:
    """Runs marked running whose heartbeat stopped: requeued while attempts remain, else failed.
    Then the queued runs whose message was lost are sent again (``resend_lost_runs``)."""
    cutoff = timezone.now() - timedelta(seconds=settings.TRAINING_STALE_AFTER_S)
    reaped = []
    for run in TrainingRun.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff):
        if run.attempts >= int(run.config.get("max_attempts", 3)) or run.cancel_requested:
            status = JobStatus.CANCELLED if run.cancel_requested else JobStatus.FAILED
            error = {} if run.cancel_requested else {"error": {"code": "worker_lost",
                                                              "message": "the worker stopped sending heartbeats"}}
            finish_run(run.pk, status, only_from=(JobStatus.RUNNING,), **error)
        elif TrainingRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
                status=JobStatus.QUEUED, heartbeat_at=timezone.now()):
            record_event(run.pk, {"type": "run.status", "status": JobStatus.QUEUED, "reason": "worker_lost"})
            _send(run)
        reaped.append(run.pk)
    reap_stale_leases()
    resend_lost_runs()
    return reaped


def resend_lost_runs() -> list[int]:
    """Send again the task of each queued run nothing was heard of (created, requeued, or retried
    while its device was busy) for ``TRAINING_RESEND_AFTER_S``, once its queue on the broker has
    run dry: a broker that restarted without persistence, or failed over, lost its message, and the
    run would wait forever. While the queue still holds messages the run's may be among them, so
    it is left alone; a copy sent anyway (its message was with a worker, not yet started) is
    harmless: the first delivery claims the run (``begin_attempt``), every other finds it running
    or finished. Returns the runs sent."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.TRAINING_RESEND_AFTER_S)
    quiet = (TrainingRun.objects.filter(status=JobStatus.QUEUED, cancel_requested=False)
             .annotate(seen=Coalesce("heartbeat_at", "created_at")).filter(seen__lt=cutoff).order_by("created_at"))
    dry: dict[str, bool] = {}
    sent = []
    for run in quiet:
        queue = run_queue(run)
        if queue not in dry:
            try:
                dry[queue] = waiting(queue) == 0
            except Exception as exc:  # the broker is down: the next sweep looks again
                log.warning("the reaper cannot count queue %s (%s)", queue, exc)
                dry[queue] = False
        # One sweep wins per run: a conditional update, as beat may overlap a worker's start-up reap.
        if dry[queue] and TrainingRun.objects.filter(pk=run.pk, status=JobStatus.QUEUED).filter(
                Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)).update(heartbeat_at=now):
            record_event(run.pk, {"type": "run.log", "level": "warning", "reason": "resent",
                                  "message": f"queued for over {settings.TRAINING_RESEND_AFTER_S} s with its "
                                             "queue empty: its message was lost, so its task was sent again"})
            if _send(run):
                sent.append(run.pk)
    return sent


def _send(run: TrainingRun) -> bool:
    """Queue a run's task; False when the broker cannot be reached (it is down or restarting): the
    run stays queued, and ``resend_lost_runs`` sends it once ``TRAINING_RESEND_AFTER_S`` passed."""
    try:
        enqueue(run)
    except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, a socket's OSError
        log.warning("run %s: its task could not be sent (%s); the reaper sends it again later", run.pk, exc)
        return False
    return True


def register_worker(name: str, queues: list[str], devices: list[dict[str, Any]]) -> None:
    WorkerNode.objects.update_or_create(name=name, defaults={"queues": queues, "devices": devices,
                                                             "seen_at": timezone.now()})


# ---- multi-node runs (domain.runs.nodes forms the gang) ------------------------------------------------
def node_heartbeat(run_id: int, pid: int, attempt: int) -> bool:
    """``heartbeat`` for a node of a multi-node run: any live node keeps the run's attempt alive
    (the run row names one node, the one that claimed it). Returns whether a cancel was requested."""
    now = timezone.now()
    TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING, attempts=attempt).update(heartbeat_at=now)
    DeviceLease.objects.filter(run_id=run_id, pid=pid).update(heartbeat_at=now)
    return bool(TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists())


def requeue_after_node_loss(run_id: int, attempt: int, error: dict[str, Any]) -> bool:
    """A node of attempt ``attempt`` failed (a peer lost, or the rendezvous timed out): queue the
    run again to resume from its last checkpoint on whichever nodes are free, or end it when its
    attempts are used up (``error`` is then its error) or a cancel was asked. Once per attempt:
    the first node to report wins, the others find the run moved on. Returns whether this call
    changed the run."""
    run = TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING, attempts=attempt).first()
    if run is None:
        return False
    if run.cancel_requested:
        return finish_run(run_id, JobStatus.CANCELLED, only_from=(JobStatus.RUNNING,))
    if run.attempts >= int(run.config.get("max_attempts", 3)):
        return finish_run(run_id, JobStatus.FAILED, only_from=(JobStatus.RUNNING,), error=error)
    if not TrainingRun.objects.filter(pk=run_id, status=JobStatus.RUNNING, attempts=attempt).update(
            status=JobStatus.QUEUED, heartbeat_at=timezone.now()):  # just sent: not one for resend_lost_runs
        return False
    record_event(run_id, {"type": "run.status", "status": JobStatus.QUEUED, "reason": "node_lost",
                          "message": error.get("message", "")})
    _send(run)  # a broker down now: resend_lost_runs sends it later
    return True


def record_nodes(run_id: int, attempt: int, nodes: list[dict[str, Any]]) -> None:
    """Write where the attempt's nodes run (``[{node, host, address, pid, devices}]``) on the run."""
    TrainingRun.objects.filter(pk=run_id, attempts=attempt).update(nodes=nodes)
