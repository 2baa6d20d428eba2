"""The rules for training runs: validation before queueing, the state changes the training task
makes (each a conditional update, so a run ends in exactly one terminal status), cancel, resume,
stored events, device leases (one training per GPU), the reaper and worker registration. Views
and the task call these."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from domain.datasets.models import DatasetVersion
from domain.events import publish
from domain.jobs import lifecycle
from domain.jobs.models import JobStatus
from domain.projects.models import GraphVersion, Role
from domain.projects.services import DomainError, create_graph_version, require_role
from domain.queue import enqueue as queue_task
from domain.runs.models import RunEvent, TrainingRun, WorkerNode
from pipelines.datasets.augment import AugmentationSettings
from pipelines.training.config import ConfigError, RunConfig, parse_config

from . import finetune, signals

log = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    return f"run.{run_id}"


def run_folder(run: TrainingRun) -> Path:
    # The creation time keeps a folder from being reused when a database is reset and ids restart.
    return Path(settings.TRAINING_RUNS_DIR) / f"run-{run.pk}-{run.created_at:%Y%m%d%H%M%S%f}"


def visible_runs(user: AbstractBaseUser) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(project__memberships__user=user).distinct()


def can_view(user: Any, run_id: int) -> bool:
    return bool(user and user.is_authenticated and visible_runs(user).filter(pk=run_id).exists())


# ---- validation --------------------------------------------------------------------------------
def plan_run(graph_version: GraphVersion, dataset_version: DatasetVersion, raw_config: Any, *,
             document: dict[str, Any] | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """Check a run request before it is queued. Returns the parsed config and the plan (input
    resize, classes, memory estimate); raises ``DomainError`` naming the first bad field.
    ``document`` stands in for the version's graph (a fine-tuning run's replaced head)."""
    from builder.graph import validate

    config = raw_config if isinstance(raw_config, RunConfig) else _parse(raw_config)
    if not graph_version.is_valid:
        raise DomainError("graph_version", "this graph version is a draft with errors; fix them and save first")
    if not dataset_version.is_usable:
        raise DomainError("dataset_version", f"this dataset version is {dataset_version.status}: only a succeeded "
                          "ingest can be trained on")
    _check_splits(dataset_version)
    _check_augmentation(config, dataset_version)
    if dataset_version.task and dataset_version.task != config.task:
        raise DomainError("config.task", f"the dataset is for {dataset_version.task}, not {config.task}")
    report = validate(document or graph_version.document, batch_size=config.batch_size)
    if not report.ok:
        raise DomainError("graph_version", "the graph does not validate at this batch size: "
                          + "; ".join(e.message for e in report.errors[:3]))
    if len(report.inputs) != 1 or len(report.outputs) != 1:
        raise DomainError("graph_version", f"training needs one input and one output; the graph has "
                          f"{len(report.inputs)} inputs and {len(report.outputs)} outputs")
    plan: dict[str, Any] = {"classes": list(dataset_version.classes), "input": report.inputs[0],
                            "output": report.outputs[0], "flops": report.flops, "params": report.params}
    plan["resize"] = _input_plan(report, dataset_version.recipe)
    _check_output(report, config, len(dataset_version.classes))
    plan["target_transform"] = _target_transform(config, dataset_version)
    plan["memory"] = _check_memory(report, config)
    plan["layer_flops"] = {node_id: info.flops for node_id, info in report.nodes.items() if info.flops}
    return config, plan


def _check_splits(dataset_version: DatasetVersion) -> None:
    """Training reports validation and test metrics: refuse a version whose split has none."""
    stats = dataset_version.stats or {}
    counts, groups = stats.get("split_counts") or {}, stats.get("split_groups") or {}
    for split, name, option in (("val", "validation", "val_fraction"), ("test", "test", "test_fraction")):
        if split in counts and not counts[split]:
            unit = f"{stats.get('grouped_by', 'group')}s" if stats.get("grouped_by") in ("patient", "document") else "groups"
            total = sum(groups.values()) or sum(counts.values())
            shown = " · ".join(f"{key} {counts.get(key, 0)}" for key in ("train", "val", "test"))
            small = f"; {total} {unit} is under 10, so add {unit} as well" if total < 10 else ""
            raise DomainError("dataset_version", f"the {name} split of this dataset version is empty ({shown} "
                              f"samples): ingest a new version with a larger {option}{small}")


def _check_augmentation(config: RunConfig, dataset_version: DatasetVersion) -> None:
    """Volume-only augmentation (3-D affine, elastic) on a version whose samples are not volumes
    (2-D images, or CT ingested slice by slice) could not apply: refuse it, naming the field."""
    if (dataset_version.recipe or {}).get("layout") == "N1DHW":
        return
    if config.augmentation is not None:
        if names := config.augmentation.volume_only():
            raise DomainError(f"config.augmentation.{names[0]}", f"{names[0]} applies to volumes; the samples of "
                              "this dataset version are not volumes")
        return
    try:
        stored = AugmentationSettings.model_validate(dataset_version.dataset.augmentation or {})
    except ValueError:
        return  # not valid settings today: the loader decides, as before
    if names := stored.volume_only():
        raise DomainError("config.augmentation", f"the dataset's augmentation sets {names[0]}, which applies to "
                          "volumes; the samples of this version are not volumes (2-D slices or images): give the "
                          "run an augmentation without it, or ingest a version in 3d mode")


def _parse(raw_config: Any) -> RunConfig:
    try:
        return parse_config(raw_config)
    except ConfigError as exc:
        raise DomainError(exc.field, exc.message) from exc


# ---- fine-tuning: starting weights, frozen nodes, a replaced head --------------------------------------
def _prepare(user: AbstractBaseUser, graph_version: GraphVersion, dataset_version: DatasetVersion,
             raw_config: Any) -> tuple[RunConfig, dict[str, Any], dict[str, Any] | None]:
    """The checks of ``estimate_run``, plus the graph to save as a new version when fine-tuning
    needs a new head for the dataset's classes (None when the version trains as it is)."""
    project = graph_version.graph.project
    require_role(user, project, Role.EDITOR)
    if dataset_version.dataset.project_id != project.pk:
        raise DomainError("dataset_version", "the dataset version belongs to another project")
    config = _parse(raw_config)
    document = None
    if config.init_weights is not None:
        config.init_weights = finetune.resolve_init_weights(user, project, config.init_weights)
        document, head = finetune.new_head(graph_version.document, config, len(dataset_version.classes))
        if head is not None:
            config.init_weights.drop = sorted({*config.init_weights.drop, head})
        finetune.check_weights_fit(document or graph_version.document, config.init_weights)
    from pipelines.training.finetune import unknown_nodes

    for index, node_id in unknown_nodes(document or graph_version.document, config.freeze)[:1]:
        raise DomainError(f"config.freeze[{index}]", f"the graph has no node {node_id!r}")
    config, plan = plan_run(graph_version, dataset_version, config, document=document)
    return config, plan, document


def _target_transform(config: RunConfig, dataset_version: DatasetVersion) -> dict[str, Any] | None:
    """A regression run's target scaling with the training split's statistics (JSON), or None."""
    if config.task != "regression":
        return None
    from domain.datasets.services import cache_folder
    from pipelines.datasets.targets import TargetScalingError, resolve, statistics_for

    try:
        transform = resolve(config.target_scaling, statistics_for(dataset_version.recipe or {},
                                                                  cache_folder(dataset_version)))
    except TargetScalingError as exc:
        raise DomainError("config.target_scaling", str(exc)) from exc
    except OSError as exc:  # an old version whose cache is gone: it cannot be trained on anyway
        raise DomainError("dataset_version", f"the dataset version's cached targets cannot be read: {exc}") from exc
    return transform.to_dict() if transform is not None else None


def _input_plan(report: Any, recipe: dict[str, Any]) -> list[int] | None:
    shape = list(report.nodes[report.inputs[0]].outputs["out"])
    kind = recipe.get("input")
    if kind == "image":
        channels, size = int(recipe["channels"]), [int(s) for s in recipe["size"]]
        if len(shape) != 4:
            raise DomainError("graph_version", f"the dataset holds images (N, {channels}, H, W) but the graph's "
                              f"input is {shape}")
        if shape[1] != channels:
            raise DomainError("graph_version", f"the graph's input has {shape[1]} channels; the dataset's images "
                              f"have {channels}")
        return shape[2:] if shape[2:] != size else None
    sample = recipe.get("sample_shape") or recipe.get("shape")
    if sample and list(shape[1:]) != [int(s) for s in sample]:
        raise DomainError("graph_version", f"the graph's input is {shape[1:]} per sample; the dataset's is {sample}")
    return None


def _check_output(report: Any, config: RunConfig, classes: int) -> None:
    node_id, port = report.outputs[0].split(":")
    shape = list(report.nodes[node_id].outputs[port])
    if config.task == "classification":
        if len(shape) != 2 or shape[1] != classes:
            raise DomainError("graph_version", f"the graph's output is {shape[1:]} per sample but the dataset has "
                              f"{classes} classes: end with a linear layer of {classes} outputs")
    elif config.task == "regression":
        if shape[1:] not in ([], [1]):
            raise DomainError("graph_version", f"regression needs one output per sample; the graph gives {shape[1:]}")
        if config.output_bias == "target_mean":
            _check_output_bias(report, node_id)
    elif len(shape) < 3 or shape[1] != classes:
        raise DomainError("graph_version", f"segmentation needs (N, {classes}, ...) outputs; the graph gives {shape}")


def _check_output_bias(report: Any, node_id: str) -> None:
    """``output_bias: target_mean`` asked for explicitly: refuse it now, not when training starts,
    when the output does not come straight from a layer with a bias (pipelines/training/output_bias.py)."""
    from builder.graph import compile_graph
    from pipelines.training.output_bias import output_layer

    if output_layer(compile_graph(report.document)) is None:
        raise DomainError("config.output_bias", f"target_mean starts the output layer's bias at the targets' "
                          f"mean, but the output node {node_id!r} ({report.nodes[node_id].type}) is not a linear "
                          "or convolution with a bias: turn its bias on, end the graph with such a layer, or use "
                          "auto or layer_default")


def _check_memory(report: Any, config: RunConfig) -> dict[str, Any]:
    key = config.precision.precision_mode  # the graph core's estimate uses the run's names
    needed = int(report.memory.get(key, {}).get("total", 0))
    kind = config.device.kind
    fresh = timezone.now() - timedelta(seconds=settings.TRAINING_STALE_AFTER_S * 10)
    devices = [d for w in WorkerNode.objects.filter(seen_at__gte=fresh) for d in w.devices
               if kind == "auto" or d["kind"] == kind]
    if config.device.gpus > 1:
        if kind in ("cpu", "mps"):
            raise DomainError("config.device.gpus", f"{kind} training uses one device; ask for cuda or xpu")
        if devices and not any(d["kind"] in ("cuda", "xpu") and d["count"] >= config.device.gpus for d in devices):
            raise DomainError("config.device.gpus", f"no worker has {config.device.gpus} GPUs")
    largest = max((int(d["memory_bytes"]) for d in devices), default=0)
    if largest and needed > largest:
        raise DomainError("config.batch_size", f"training needs about {needed / 2**30:.2f} GiB at batch size "
                          f"{config.batch_size} in {key}; the largest device has {largest / 2**30:.2f} GiB. "
                          "Lower the batch size or use lower precision")
    return {"precision": key, "estimated_bytes": needed, "device_bytes": largest or None}


# ---- estimate, create, cancel, resume ----------------------------------------------------------------
def estimate_run(user: AbstractBaseUser, graph_version: GraphVersion, dataset_version: DatasetVersion,
                 raw_config: Any) -> tuple[RunConfig, dict[str, Any]]:
    """The checks and plan ``create_run`` would make (memory estimate against the registered
    devices included), without creating or queueing anything. Raises ``DomainError`` as it would."""
    config, plan, _document = _prepare(user, graph_version, dataset_version, raw_config)
    return config, plan


def create_run(user: AbstractBaseUser, graph_version: GraphVersion, dataset_version: DatasetVersion,
               raw_config: Any, *, resumed_from: TrainingRun | None = None) -> TrainingRun:
    """Check and queue a run. Fine-tuning onto another number of classes first saves the graph
    with its head resized as a new version, and trains that version."""
    project = graph_version.graph.project
    config, plan, document = _prepare(user, graph_version, dataset_version, raw_config)
    with transaction.atomic():
        if document is not None:
            graph_version = create_graph_version(
                user, graph_version.graph, document=document, parent=graph_version,
                message=f"head resized to {len(dataset_version.classes)} classes for fine-tuning")
        run = TrainingRun.objects.create(project=project, graph_version=graph_version,
                                         dataset_version=dataset_version, config=config.model_dump(mode="json"),
                                         plan=plan, created_by=user, resumed_from=resumed_from)
        record_event(run, {"type": "run.status", "status": run.status})
        transaction.on_commit(lambda: enqueue(run))
    return run


def run_queue(run: TrainingRun) -> str:
    """The Celery queue a run's task goes to: runs asking for the CPU to "cpu", all others to "gpu"."""
    kind = "cpu" if run.config.get("device", {}).get("kind") == "cpu" else "gpu"
    return str(settings.TRAINING_QUEUES[kind])


def enqueue(run: TrainingRun) -> None:
    """Send the run's task; a run over ``device.nodes`` > 1 machines as that many messages sharing
    a new gang id, ``<attempts so far>-<uuid>`` (one per node: ``domain.runs.nodes``)."""
    queue = run_queue(run)
    nodes = int(run.config.get("device", {}).get("nodes", 1))
    if nodes > 1:
        gang = f"{run.attempts}-{uuid.uuid4().hex}"
        for _node in range(nodes):
            queue_task("runs.train_run", run.pk, gang, queue=queue)
        return
    queue_task("runs.train_run", run.pk, queue=queue)


def cancel_run(user: AbstractBaseUser, run: TrainingRun) -> TrainingRun:
    """Ask a run to stop. A queued run is cancelled at once; a running one within seconds (its
    heartbeat sees the flag) and keeps its last checkpoint."""
    require_role(user, run.project, Role.EDITOR)
    if run.is_finished:
        raise DomainError("status", f"the run already ended ({run.status})")
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    finish_run(run.pk, JobStatus.CANCELLED, only_from=(JobStatus.QUEUED,))
    run.refresh_from_db()
    return run


def resume_run(user: AbstractBaseUser, run: TrainingRun) -> TrainingRun:
    """A new run continuing a failed or cancelled one from its last checkpoint."""
    if run.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise DomainError("status", f"only failed or cancelled runs can be resumed; this one is {run.status}")
    from domain.runs.artifacts import has_checkpoint  # it imports this module

    if not has_checkpoint(run):
        raise DomainError("status", "this run has no checkpoint to resume from")
    config = dict(run.config)
    if config.get("task") == "regression" and "target_transform" not in (run.plan or {}):
        config["target_scaling"] = "none"  # trained before targets were scaled: its checkpoint learnt the raw one
    return create_run(user, run.graph_version, run.dataset_version, config, resumed_from=run)


# ---- events ----------------------------------------------------------------------------------------
def record_event(run: TrainingRun | int, event: dict[str, Any]) -> dict[str, Any]:
    """Store an event for late viewers and send it to the run's group; returns it with its id.
    The stored row is the record: when the channel layer cannot be reached (Redis restarting),
    the live push is skipped, and the training goes on."""
    run_id = run if isinstance(run, int) else run.pk
    stored = RunEvent.objects.create(run_id=run_id, type=str(event.get("type", "run.log"))[:40], data=event)
    full = {**event, "id": stored.pk, "run": run_id, "at": stored.created_at.isoformat()}
    try:
        publish(run_group(run_id), full)
    except (OSError, RedisError) as exc:
        log.warning("run %s: event %s stored but not pushed (%s)", run_id, stored.pk, exc)
    return full


def finish_run(run_id: int, status: str, *, only_from: tuple[str, ...] = (JobStatus.QUEUED, JobStatus.RUNNING),
               attempt: int | None = None, **fields: Any) -> bool:
    """Move a run to a terminal status once; False when it had already ended (nothing changes).
    With ``attempt`` (the training task's claim), only while the run is still running under that
    attempt: an attempt that was reaped and claimed again elsewhere cannot end it.
    A run that succeeds becomes a model in the same transaction (``signals.run_succeeded``); when
    that fails, the run fails instead with the error ``model_not_saved``."""
    try:
        with transaction.atomic():
            if attempt is not None and not TrainingRun.objects.select_for_update().filter(
                    pk=run_id, status=JobStatus.RUNNING, attempts=attempt).exists():
                return False  # the row lock holds until the update below: no claim can slip in between
            changed = lifecycle.finish(TrainingRun, run_id, status, only_from=only_from, **fields)
            if changed and status == JobStatus.SUCCEEDED:
                signals.send_run_succeeded(run_id)
    except signals.RunHookFailed as exc:
        return finish_run(run_id, JobStatus.FAILED, only_from=only_from, attempt=attempt, error={
            "code": "model_not_saved", "message": f"the trained model could not be saved: {exc}"})
    if changed:
        extra = {"error": fields["error"]} if "error" in fields else {}
        record_event(run_id, {"type": "run.status", "status": status, **extra})
    return bool(changed)
