"""The training task: a run id in; the pure engine in ``pipelines.training`` does the work.

Reliability: tasks are acknowledged late and re-queued if their worker process dies, so a
SIGKILLed run is redelivered, claims the run again (``begin_attempt`` counts attempts) and resumes
from its last checkpoint. A heartbeat thread refreshes the run (and its device leases) and notices
a cancel within ``TRAINING_HEARTBEAT_S``; the reaper requeues or fails runs whose heartbeat
stopped and frees their leases. One training per GPU: the task leases its devices before it
claims the run (``run_workers.acquire_devices``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from typing import Any

import torch  # noqa: F401  (loaded once per worker process, before the first run)
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from domain.datasets.services import cache_folder
from domain.jobs.models import JobStatus
from domain.runs import services as run_services
from domain.runs import workers as run_workers
from domain.runs.models import DeviceLease, TrainingRun
from pipelines.datasets.targets import TargetTransform
from pipelines.training import checkpoint, devices
from pipelines.training.config import RunConfig
from pipelines.training.data import cached_loaders
from pipelines.training.distributed import launch as launch_distributed
from pipelines.training.engine import FitResult, TrainingError, fit

log = logging.getLogger(__name__)
BUSY_RETRIES = 20


class _Heartbeat(threading.Thread):
    """Refreshes the run's heartbeat and watches for a cancel request, off the training thread."""

    def __init__(self, run_id: int, pid: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.pid = run_id, pid
        self.cancelled = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.TRAINING_HEARTBEAT_S):
                try:
                    if run_workers.heartbeat(self.run_id, self.pid):
                        self.cancelled.set()
                except Exception:  # a database hiccup must not kill training; the next beat retries
                    log.exception("heartbeat of run %s failed", self.run_id)
        finally:
            connection.close()


class _Events:
    """Stores and publishes engine events, keeping the run row's summary fields current."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id = run.pk

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run.progress":
            run_workers.record_progress(self.run_id, step=event["step"], progress=_brief(event))
        elif kind == "run.epoch":
            run_workers.record_progress(self.run_id, epoch=event["epoch"], step=event["step"],
                                         metrics=event["val"], best_metrics=event.get("best", {}),
                                         precision=event.get("precision", {}))
        run_services.record_event(self.run_id, event)


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("epoch", "step", "loss", "lr", "samples_per_s", "eta_s") if k in event}


@shared_task(bind=True, name="runs.train_run", max_retries=BUSY_RETRIES)
def train_run(self: Any, run_id: int) -> dict[str, Any]:
    """Train one run to exactly one terminal status; returns ``{"run", "status"}``.

    The run's devices are leased first (one training per GPU, whatever the worker's
    concurrency); while they are busy the run stays queued and the task looks again shortly.
    """
    pid = os.getpid()
    queued = TrainingRun.objects.filter(pk=run_id).first()
    if queued is None or queued.is_finished:  # e.g. cancelled while it waited for a device
        return {"run": run_id, "status": "finished"}
    kind, count = _placement(RunConfig.model_validate(queued.config))
    slots = devices.device_slots(kind, cpu_slots=run_workers.cpu_slots())
    leases = run_workers.acquire_devices(run_id, pid, slots, count) if slots else []
    if leases is None:
        if not self.request.retries:
            run_services.record_event(run_id, {"type": "run.log", "level": "info",
                                               "message": f"waiting for a free {kind} device"})
        raise self.retry(countdown=settings.TRAINING_HEARTBEAT_S, max_retries=None)
    try:
        return _train_leased(self, run_id, pid, kind, leases)
    finally:
        if leases:
            held = [lease.device for lease in leases]
            run_services.record_event(run_id, {"type": "run.log", "level": "info", "released": held,
                                               "message": f"released {', '.join(held)}"})
            run_workers.release_devices(run_id, pid)


def _placement(config: RunConfig) -> tuple[str, int]:
    """The device kind a run trains on here, and how many of them."""
    available = {info.kind: info for info in devices.available()}
    kind = config.device.kind if config.device.kind != "auto" else next(iter(available))
    wanted = config.device.gpus
    if wanted > 1 and kind in ("cuda", "xpu") and kind in available and available[kind].count >= wanted:
        return kind, wanted
    return kind, 1


def _train_leased(task: Any, run_id: int, pid: int, kind: str, leases: list[DeviceLease]) -> dict[str, Any]:
    run, why = run_workers.begin_attempt(run_id, pid)
    if run is None:
        if why == "busy":  # a redelivered copy while the holder may be alive: look again later
            raise task.retry(countdown=settings.TRAINING_STALE_AFTER_S // 2 or 1)
        return {"run": run_id, "status": why}
    run_services.record_event(run.pk, {"type": "run.status", "status": JobStatus.RUNNING, "attempt": run.attempts,
                                       "worker": run.worker, "devices": [lease.device for lease in leases]})
    beat = _Heartbeat(run.pk, pid)
    beat.start()
    try:
        result = _train(run, beat, kind, [lease.index for lease in leases])
    except TrainingError as exc:
        run_services.finish_run(run.pk, JobStatus.FAILED, error={"code": exc.code, "message": exc.message})
        return {"run": run_id, "status": JobStatus.FAILED}
    except SoftTimeLimitExceeded:
        run_services.finish_run(run.pk, JobStatus.FAILED, error={"code": "time_limit",
                                                                  "message": "the run hit the task time limit"})
        return {"run": run_id, "status": JobStatus.FAILED}
    except Exception as exc:
        log.exception("run %s failed", run_id)
        run_services.finish_run(run.pk, JobStatus.FAILED, error={"code": "error", "message": f"{type(exc).__name__}: {exc}"})
        return {"run": run_id, "status": JobStatus.FAILED}
    finally:
        beat.stopped.set()
        beat.join(timeout=10)
    return {"run": run_id, "status": _finish(run, result)}


def _train(run: TrainingRun, beat: _Heartbeat, kind: str, indices: list[int]) -> FitResult:
    """Train on ``indices`` of ``kind`` (the leased devices; empty: the first, shared)."""
    config = RunConfig.model_validate(run.config)
    folder = run_services.run_folder(run)
    checkpoints = folder / "checkpoints"
    resume_from = None
    if checkpoint.latest(checkpoints) is None and run.resumed_from_id:
        resume_from = run_services.run_folder(run.resumed_from) / "checkpoints"  # type: ignore[arg-type]
    dataset = run.dataset_version
    augmentation = (config.augmentation.model_dump() if config.augmentation is not None
                    else dataset.dataset.augmentation or None)
    resize = tuple(run.plan["resize"]) if run.plan.get("resize") else None
    emit = _Events(run)
    if len(indices) > 1:
        return launch_distributed(
            world=len(indices), device_kind=kind, document=run.graph_version.document, config=config,
            cache=cache_folder(dataset), classes=len(dataset.classes), resize=resize, augmentation=augmentation,
            checkpoint_dir=checkpoints, resume_from=resume_from, layer_flops=run.plan.get("layer_flops", {}),
            workdir=folder, emit=emit, should_cancel=beat.cancelled.is_set, device_indices=indices,
            target=run.plan.get("target_transform"))
    from builder.graph import compile_graph

    model = compile_graph(run.graph_version.document)
    data = cached_loaders(cache_folder(dataset), batch_size=config.batch_size, seed=config.seed,
                          classes=len(dataset.classes), augmentation=augmentation, resize=resize,
                          target=TargetTransform.from_dict(run.plan.get("target_transform")))
    device = devices.resolve(kind, index=indices[0] if indices else 0)
    name = next((info.name for info in devices.available() if info.kind == kind), kind)
    emit({"type": "run.log", "level": "info", "message": f"training on {name} ({device})"})
    return fit(model, data, config, device=device, checkpoint_dir=checkpoints, resume_from=resume_from,
               layer_flops=run.plan.get("layer_flops", {}), emit=emit, should_cancel=beat.cancelled.is_set)


def _finish(run: TrainingRun, result: FitResult) -> str:
    if result.status == "cancelled":
        run_services.finish_run(run.pk, JobStatus.CANCELLED, precision=result.precision)
        return JobStatus.CANCELLED
    missing = [name for name, metrics in (("validation", result.best), ("test", result.test_metrics)) if not metrics]
    if missing:  # never "succeeded" without the metrics a run reports
        run_services.finish_run(run.pk, JobStatus.FAILED, precision=result.precision, error={
            "code": "no_metrics", "message": f"training ended without {' or '.join(missing)} metrics: the dataset "
            f"version's {' and '.join(missing)} split gave none (is it empty?); ingest a version with a larger "
            "val_fraction / test_fraction or more samples"})
        return JobStatus.FAILED
    folder = run_services.run_folder(run)
    best = folder / "checkpoints" / checkpoint.BEST / "weights.safetensors"
    weights = folder / "model.safetensors"
    if best.is_file():
        shutil.copyfile(best, weights)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        preprocessing = {**run.dataset_version.recipe,
                         "resize": run.plan.get("resize"), "target_transform": run.plan.get("target_transform")}
        run_workers.save_artifact(run, weights, digest, {"best": result.best, "test": result.test_metrics},
                                   preprocessing)
    run_services.finish_run(run.pk, JobStatus.SUCCEEDED, test_metrics=result.test_metrics,
                            best_metrics=result.best, precision=result.precision)
    return JobStatus.SUCCEEDED


@shared_task(name="runs.reap_stale_runs")
def reap_stale_runs() -> list[int]:
    """Requeue or fail runs whose worker stopped sending heartbeats (scheduled by Celery beat)."""
    return run_workers.reap_stale_runs()


@worker_ready.connect
def _register_devices(sender: Any = None, **_kwargs: Any) -> None:
    """A starting worker records its devices (for validation's memory and GPU checks) and reaps."""
    try:
        queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender else []
    except Exception:
        queues = []
    try:
        run_workers.register_worker(run_workers.worker_name() + f":{os.getpid()}", queues,
                                     [d.to_dict() for d in devices.available()])
        run_workers.reap_stale_runs()
    except Exception:
        log.exception("could not register this worker's devices")
    finally:
        connection.close()


