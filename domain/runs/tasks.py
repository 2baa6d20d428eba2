"""The training task: a run id in; the pure engine in ``pipelines.training`` does the work.

Reliability: tasks are acknowledged late and re-queued if their worker process dies, so a
SIGKILLed run is redelivered, claims the run again (``begin_attempt`` counts attempts) and resumes
from its last checkpoint. A heartbeat thread refreshes the run (and its device leases) and notices
a cancel within ``TRAINING_HEARTBEAT_S``; the reaper requeues or fails runs whose heartbeat
stopped and frees their leases. One training per GPU: the task leases its devices before it
claims the run (``run_workers.acquire_devices``). A run over ``device.nodes`` > 1 machines is one
task per node (``_train_gang``, ``domain.runs.nodes``); a node lost ends the attempt and the run is
queued again to resume from its checkpoint on whichever nodes are free. Never one run twice at
once: the attempt number fences the claim, so an attempt reaped while alive stops at its next
heartbeat and cannot end the run (the task returns ``superseded``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from typing import Any

import torch  # noqa: F401  (loaded once per worker process, before the first run)
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from domain.datasets.services import held_cache
from domain.jobs.models import TERMINAL_STATUSES, JobStatus
from domain.runs import artifacts as run_artifacts
from domain.runs import nodes as run_nodes
from domain.runs import services as run_services
from domain.runs import workers as run_workers
from domain.runs.models import DeviceLease, TrainingRun
from pipelines.datasets.targets import TargetTransform
from pipelines.training import checkpoint, devices
from pipelines.training.config import RunConfig
from pipelines.training.data import cached_loaders
from pipelines.training.distributed import Rendezvous, launch_node
from pipelines.training.distributed import launch as launch_distributed
from pipelines.training.engine import FitResult, TrainingError, fit

log = logging.getLogger(__name__)
BUSY_RETRIES = 20
SUPERSEDED = "superseded"  # what a task reports when its attempt lost the claim: the run is another's


class _Heartbeat(threading.Thread):
    """Refreshes the run's heartbeat off the training thread, and stops the training when a cancel
    is requested or the claim is lost (the run was reaped and claimed again elsewhere)."""

    def __init__(self, run_id: int, pid: int, attempt: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.pid, self.attempt = run_id, pid, attempt
        self.cancelled = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.TRAINING_HEARTBEAT_S):
                try:
                    if run_workers.heartbeat(self.run_id, self.pid, self.attempt):
                        self.cancelled.set()
                except Exception:  # a database hiccup must not kill training; the next beat retries
                    log.exception("heartbeat of run %s failed", self.run_id)
        finally:
            connection.close()


class _Events:
    """Stores and publishes engine events, keeping the run row's summary fields current."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id, self.attempt = run.pk, run.attempts

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run.progress":
            run_workers.record_progress(self.run_id, self.attempt, step=event["step"], progress=_brief(event))
        elif kind == "run.epoch":
            run_workers.record_progress(self.run_id, self.attempt, epoch=event["epoch"], step=event["step"],
                                         metrics=event["val"], best_metrics=event.get("best", {}),
                                         precision=event.get("precision", {}))
        # Each stored event names its attempt, so a run's record shows the attempts one after another.
        run_services.record_event(self.run_id, {**event, "attempt": self.attempt})


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("epoch", "step", "loss", "lr", "samples_per_s", "eta_s") if k in event}


@shared_task(bind=True, name="runs.train_run", max_retries=BUSY_RETRIES)
def train_run(self: Any, run_id: int, gang: str = "") -> dict[str, Any]:
    """Train one run to exactly one terminal status; returns ``{"run", "status"}``.

    The run's devices are leased first (one training per GPU, whatever the worker's
    concurrency); while they are busy the run stays queued and the task looks again shortly.
    A run over ``device.nodes`` > 1 machines is sent as that many messages sharing ``gang``: each
    is one node (``_train_gang``).
    """
    pid = os.getpid()
    queued = TrainingRun.objects.filter(pk=run_id).first()
    if queued is None or queued.is_finished:  # e.g. cancelled while it waited for a device
        return {"run": run_id, "status": "finished"}
    kind, count = _placement(RunConfig.model_validate(queued.config))
    slots = devices.device_slots(kind, cpu_slots=run_workers.cpu_slots())
    leases = run_workers.acquire_devices(run_id, pid, slots, count) if slots else []
    if leases is None:
        run_workers.touch_queued(run_id)  # its message is alive: not one for resend_lost_runs
        if not self.request.retries:
            run_services.record_event(run_id, {"type": "run.log", "level": "info",
                                               "message": f"waiting for a free {kind} device"})
        raise self.retry(countdown=settings.TRAINING_HEARTBEAT_S, max_retries=None)
    try:
        if RunConfig.model_validate(queued.config).device.nodes > 1:
            return _train_gang(run_id, gang, pid, kind, leases)
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
    attempt = run.attempts  # the claim's fencing token: every end below holds only while it is ours
    beat = _Heartbeat(run.pk, pid, attempt)
    beat.start()
    result: FitResult | None = None
    try:
        result = _train(run, beat, kind, [lease.index for lease in leases])
    except TrainingError as exc:
        error = {"code": exc.code, "message": exc.message}
    except SoftTimeLimitExceeded:
        error = {"code": "time_limit", "message": "the run hit the task time limit"}
    except Exception as exc:
        log.exception("run %s failed", run_id)
        error = {"code": "error", "message": f"{type(exc).__name__}: {exc}"}
    finally:
        beat.stopped.set()
        beat.join(timeout=10)
    if result is not None:
        return {"run": run_id, "status": _finish(run, result)}
    ended = run_services.finish_run(run.pk, JobStatus.FAILED, attempt=attempt, error=error)
    return {"run": run_id, "status": JobStatus.FAILED if ended else SUPERSEDED}


def _train(run: TrainingRun, beat: _Heartbeat, kind: str, indices: list[int], *,
           node: tuple[int, Rendezvous] | None = None) -> FitResult | None:
    """Train on ``indices`` of ``kind`` (the leased devices; empty: the first, shared). ``node``:
    this task is node ``node[0]`` of a multi-node run meeting at ``node[1]``; it returns None
    unless global rank 0 ran here."""
    config = run_artifacts.local_init_weights(run, RunConfig.model_validate(run.config))
    folder = run_services.run_folder(run)
    checkpoints = folder / "checkpoints"
    run_artifacts.restore_checkpoint(run, checkpoints)  # with a shared store: what another machine published
    resume_from = None
    if checkpoint.latest(checkpoints) is None and run.resumed_from_id:
        resume_from = run_services.run_folder(run.resumed_from) / "checkpoints"  # type: ignore[arg-type]
        run_artifacts.restore_checkpoint(run.resumed_from, resume_from)  # type: ignore[arg-type]
    dataset = run.dataset_version
    augmentation = (config.augmentation.model_dump() if config.augmentation is not None
                    else dataset.dataset.augmentation or None)
    resize = tuple(run.plan["resize"]) if run.plan.get("resize") else None
    emit = run_artifacts.publishing(run, checkpoints, _Events(run))
    with held_cache(dataset) as cache:  # no eviction of the dataset's files while training reads them
        if node is not None:
            return launch_node(
                world=max(1, len(indices)), device_kind=kind, document=run.graph_version.document, config=config,
                cache=cache, classes=len(dataset.classes), resize=resize, augmentation=augmentation,
                checkpoint_dir=checkpoints, resume_from=resume_from, layer_flops=run.plan.get("layer_flops", {}),
                workdir=folder / "nodes" / f"node-{node[0]}", emit=emit, should_cancel=beat.cancelled.is_set,
                device_indices=indices or None, rendezvous=node[1], target=run.plan.get("target_transform"))
        if len(indices) > 1:
            return launch_distributed(
                world=len(indices), device_kind=kind, document=run.graph_version.document, config=config,
                cache=cache, classes=len(dataset.classes), resize=resize, augmentation=augmentation,
                checkpoint_dir=checkpoints, resume_from=resume_from, layer_flops=run.plan.get("layer_flops", {}),
                workdir=folder, emit=emit, should_cancel=beat.cancelled.is_set, device_indices=indices,
                target=run.plan.get("target_transform"))
        from builder.graph import compile_graph

        model = compile_graph(run.graph_version.document)
        data = cached_loaders(cache, batch_size=config.batch_size, seed=config.seed,
                              classes=len(dataset.classes), augmentation=augmentation, resize=resize,
                              target=TargetTransform.from_dict(run.plan.get("target_transform")))
        device = devices.resolve(kind, index=indices[0] if indices else 0)
        name = next((info.name for info in devices.available() if info.kind == kind), kind)
        emit({"type": "run.log", "level": "info", "message": f"training on {name} ({device})"})
        return fit(model, data, config, device=device, checkpoint_dir=checkpoints, resume_from=resume_from,
                   layer_flops=run.plan.get("layer_flops", {}), emit=emit, should_cancel=beat.cancelled.is_set)


def _finish(run: TrainingRun, result: FitResult) -> str:
    attempt = run.attempts
    if not run_workers.holds(run.pk, attempt):  # reaped and claimed again while this attempt trained
        log.warning("run %s: attempt %s lost its claim; it ends without touching the run", run.pk, attempt)
        return SUPERSEDED
    if result.status == "cancelled":  # a cancel, or a claim lost since: the fence tells them apart
        ended = run_services.finish_run(run.pk, JobStatus.CANCELLED, attempt=attempt, precision=result.precision)
        return JobStatus.CANCELLED if ended else SUPERSEDED
    missing = [name for name, metrics in (("validation", result.best), ("test", result.test_metrics)) if not metrics]
    if missing:  # never "succeeded" without the metrics a run reports
        run_services.finish_run(run.pk, JobStatus.FAILED, attempt=attempt, precision=result.precision, error={
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
        try:
            run_artifacts.store_weights(weights)
        except Exception as exc:  # noqa: BLE001  (a run whose weights nobody else can read did not succeed)
            log.exception("run %s: the trained weights could not be stored", run.pk)
            ended = run_services.finish_run(run.pk, JobStatus.FAILED, attempt=attempt, precision=result.precision,
                                            error={"code": "weights_not_stored", "message": "the trained weights "
                                                   f"could not be written to the store: {type(exc).__name__}: {exc}"})
            return JobStatus.FAILED if ended else SUPERSEDED
        preprocessing = {**run.dataset_version.recipe,
                         "resize": run.plan.get("resize"), "target_transform": run.plan.get("target_transform")}
        run_workers.save_artifact(run, weights, digest, {"best": result.best, "test": result.test_metrics},
                                   preprocessing)
    ended = run_services.finish_run(run.pk, JobStatus.SUCCEEDED, attempt=attempt, test_metrics=result.test_metrics,
                                    best_metrics=result.best, precision=result.precision)
    return JobStatus.SUCCEEDED if ended else SUPERSEDED


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




# ---- multi-node runs: one task per node (domain.runs.nodes) -------------------------------------------
class _NodeHeartbeat(_Heartbeat):
    """A node's heartbeat: keeps the attempt alive from any node (``node_heartbeat``), watches for
    a cancel, and writes the gang's nodes on the run as they join."""

    def __init__(self, run_id: int, pid: int, attempt: int, gang: run_nodes.Gang) -> None:
        super().__init__(run_id, pid, attempt)
        self.gang, self.shown = gang, 0

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.TRAINING_HEARTBEAT_S):
                try:
                    if run_workers.node_heartbeat(self.run_id, self.pid, self.attempt):
                        self.cancelled.set()
                    self.gang.keep()
                    self.show_members()
                except Exception:  # a database or Redis hiccup must not kill training; the next beat retries
                    log.exception("heartbeat of run %s failed", self.run_id)
        finally:
            connection.close()

    def show_members(self) -> None:
        members = self.gang.members()
        if len(members) > self.shown:
            run_workers.record_nodes(self.run_id, self.attempt, members)
            self.shown = len(members)


def _train_gang(run_id: int, gang_id: str, pid: int, kind: str, leases: list[DeviceLease]) -> dict[str, Any]:
    """One node of a multi-node run: join the gang, meet the others in the c10d rendezvous, train
    this node's ranks. A message whose gang started or gave up without it is dropped (``stale``)."""
    run = TrainingRun.objects.get(pk=run_id)
    config = RunConfig.model_validate(run.config)
    if not gang_id:  # sent without a gang (by hand, or before this version): start one
        run_services.enqueue(run)
        return {"run": run_id, "status": "stale"}
    if not run_nodes.for_attempts(gang_id, run.attempts):  # a late redelivery: the run has moved on
        return {"run": run_id, "status": "stale"}
    timeout = config.distributed.timeout_s
    gang = run_nodes.Gang(gang_id, config.device.nodes, ttl_s=3 * timeout + 60)
    slot = gang.join()
    if slot is None:
        return {"run": run_id, "status": "stale"}
    store: Any = None
    if slot == 0:
        opened = _open_gang(gang, run_id, pid, timeout)
        if opened is None:
            return {"run": run_id, "status": "waiting"}
        store, endpoint, attempt = opened
    else:
        found = gang.wait_endpoint(2 * timeout + 30)  # slot 0 waits up to ``timeout`` for the rest, then claims
        if found is None:
            return {"run": run_id, "status": "stale"}
        endpoint, attempt = found
    try:
        return _train_as_node(run_id, pid, kind, leases, gang, slot, endpoint, attempt)
    finally:
        del store  # slot 0 serves the rendezvous until its own node is done


def _open_gang(gang: run_nodes.Gang, run_id: int, pid: int, timeout: int) -> tuple[Any, str, int] | None:
    """Slot 0: wait for the gang to fill, claim the run, serve the rendezvous store. Returns the
    store, its endpoint and the attempt; None when the gang closed (the run is queued again as a
    new gang when it timed out; nothing to do when the run ended or another attempt holds it)."""
    deadline = time.monotonic() + timeout
    while not gang.wait_full(max(0.0, min(settings.TRAINING_HEARTBEAT_S * 5.0, deadline - time.monotonic()))):
        run_workers.touch_queued(run_id)  # the run's messages are alive: not one for resend_lost_runs
        if TrainingRun.objects.filter(pk=run_id, status__in=TERMINAL_STATUSES).exists():
            gang.close(force=True)
            return None
        if time.monotonic() >= deadline and gang.close():
            run_services.record_event(run_id, {"type": "run.log", "level": "warning", "message":
                                               f"waiting for {gang.nodes} free nodes: not all took the run within "
                                               f"{timeout} s; queued again"})
            queued = TrainingRun.objects.get(pk=run_id)
            if queued.status == JobStatus.QUEUED:
                run_services.enqueue(queued)
            return None
    run, _why = run_workers.begin_attempt(run_id, pid)
    if run is None:  # ended, cancelled, out of attempts, or held by a live attempt
        gang.close(force=True)
        return None
    store, endpoint = run_nodes.serve_store()
    gang.publish(endpoint, run.attempts)
    run_services.record_event(run.pk, {"type": "run.status", "status": JobStatus.RUNNING, "attempt": run.attempts,
                                       "worker": run.worker, "node_count": gang.nodes, "rendezvous": endpoint})
    return store, endpoint, run.attempts


def _train_as_node(run_id: int, pid: int, kind: str, leases: list[DeviceLease], gang: run_nodes.Gang, slot: int,
                   endpoint: str, attempt: int) -> dict[str, Any]:
    """Train this node's ranks for ``attempt``. The node that ran global rank 0 finishes the run. A
    node that fails with ``distributed_failed`` (a peer lost, the rendezvous timed out) queues the
    run again to resume from its checkpoint (``requeue_after_node_loss``, once per attempt)."""
    run = TrainingRun.objects.get(pk=run_id)
    if run.status != JobStatus.RUNNING or run.attempts != attempt:
        return {"run": run_id, "status": "stale"}
    address, held = run_nodes.node_address(), [lease.device for lease in leases]
    gang.add_member(slot, {"node": slot, "host": run_workers.worker_name(), "address": address, "pid": pid,
                           "devices": held})
    run_services.record_event(run_id, {"type": "run.log", "level": "info", "node": slot, "attempt": attempt,
                                       "message": f"node {slot} of {gang.nodes} ({run_workers.worker_name()}, "
                                                  f"{address}) meets the others at {endpoint}"})
    beat = _NodeHeartbeat(run_id, pid, attempt, gang)
    beat.show_members()
    beat.start()
    rendezvous = Rendezvous(endpoint=endpoint, nodes=gang.nodes, run_id=gang.gang_id, is_host=False,
                            local_addr=address)
    result: FitResult | None = None
    error: dict[str, str] | None = None
    try:
        result = _train(run, beat, kind, [lease.index for lease in leases], node=(slot, rendezvous))
    except TrainingError as exc:
        error = {"code": exc.code, "message": exc.message}
    except SoftTimeLimitExceeded:
        error = {"code": "time_limit", "message": "the run hit the task time limit"}
    except Exception as exc:
        log.exception("run %s failed on node %s", run_id, slot)
        error = {"code": "error", "message": f"{type(exc).__name__}: {exc}"}
    finally:
        beat.stopped.set()
        beat.join(timeout=10)
    if error is not None:
        if error["code"] == "distributed_failed":
            run_workers.requeue_after_node_loss(run_id, attempt, error)
            return {"run": run_id, "status": "node_lost"}
        ended = run_services.finish_run(run_id, JobStatus.FAILED, attempt=attempt, error=error)
        return {"run": run_id, "status": JobStatus.FAILED if ended else SUPERSEDED}
    if result is None:
        return {"run": run_id, "status": "node_done", "node": slot}
    return {"run": run_id, "status": _finish(run, result)}
