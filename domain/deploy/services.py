"""The rules of compression, export and deployment. Views call these; Celery tasks in
``pipelines/tasks_deploy.py`` do the heavy work through the pure runtime."""
from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from domain.deploy import serving
from domain.deploy import store as deploy_store
from domain.deploy.models import (
    Deployment,
    DeploymentKey,
    ModelExport,
    ModelKind,
    ModelVariant,
)
from domain.jobs import lifecycle
from domain.jobs.models import JobStatus
from domain.projects.models import Role
from domain.projects.services import DomainError, require_role, visible_projects
from domain.queue import enqueue
from domain.runs.artifacts import weights_file as run_weights_file
from domain.runs.models import RunArtifact
from domain.runs.services import create_run

KEY_PREFIX = "vmb_"
LATENCY_WINDOW = 1000  # recent latencies kept per deployment for percentiles
EXPORT_FORMATS = ("onnx", "torchscript", "bundle", "pytorch_source")


def models_dir() -> Path:
    """Where variant, export and serving folders live; web and workers must share it."""
    return Path(settings.DEPLOY_DIR)


def variant_folder(variant: ModelVariant) -> Path:
    return models_dir() / "variants" / str(variant.pk)


def relative_path(path: Path) -> str:
    return path.relative_to(models_dir()).as_posix()


def _field_errors(exc: PydanticValidationError, prefix: str) -> DomainError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    return DomainError(f"{prefix}.{where}" if where != "config" else prefix, first["msg"])


# ---- visibility ------------------------------------------------------------------------------
def visible_variants(user: AbstractBaseUser) -> QuerySet[ModelVariant]:
    return ModelVariant.objects.filter(project__in=visible_projects(user))


def visible_exports(user: AbstractBaseUser) -> QuerySet[ModelExport]:
    return ModelExport.objects.filter(variant__project__in=visible_projects(user))


def visible_deployments(user: AbstractBaseUser) -> QuerySet[Deployment]:
    return Deployment.objects.filter(project__in=visible_projects(user))


# ---- variants --------------------------------------------------------------------------------
def card_for_artifact(artifact: RunArtifact) -> dict[str, Any]:
    from pipelines.export.package import make_card

    run = artifact.run
    version = artifact.graph_version
    dataset_version = run.dataset_version
    recipe = dataset_version.recipe or {}
    lineage: list[dict[str, Any]] = [{"kind": "trained", "run": run.pk, "graph_version": version.pk}]
    source = _finetuned_from(artifact)
    if source is not None:
        lineage.insert(0, {"kind": "fine-tuned from", "model": source.pk})
    return make_card(
        version.document, name=f"{version.graph.name} v{version.number} (run {run.pk})",
        task=str(recipe.get("task") or run.config.get("task") or "classification"), classes=list(artifact.classes),
        preprocessing=artifact.preprocessing, metrics=artifact.metrics, training_config=artifact.config,
        dataset={"id": dataset_version.dataset_id, "version": dataset_version.pk,
                 "name": dataset_version.dataset.name, "kind": recipe.get("kind") or recipe.get("input")},
        lineage=lineage,
    )


def _finetuned_from(artifact: RunArtifact) -> ModelVariant | None:
    """The model of this project a fine-tuning run started from (a pruned one, say), if any."""
    model_id = ((artifact.run.config or {}).get("init_weights") or {}).get("model")
    if not model_id:
        return None
    return ModelVariant.objects.filter(pk=model_id, project_id=artifact.run.project_id).first()


def variant_from_artifact(user: AbstractBaseUser, artifact: RunArtifact) -> ModelVariant:
    """The trained model of a run as a variant. A run made since models appear at once already has
    it (``trained_variant``, when the run succeeded); an older run gets it now."""
    require_role(user, artifact.run.project, Role.EDITOR)
    return trained_variant(artifact, created_by=user)


def trained_variant(artifact: RunArtifact, *, created_by: Any = None) -> ModelVariant:
    """The trained model of ``artifact``'s run, made once (its bundle written now), then reused.
    Raises ``DomainError`` when the weights file is missing."""
    from safetensors.torch import load_file

    from pipelines.export.package import ModelPackage, save_package

    existing = ModelVariant.objects.filter(artifact=artifact, kind=ModelKind.TRAINED).first()
    if existing is not None:
        return existing
    try:
        weights_file = run_weights_file(artifact.weights_path, artifact.weights_sha256)
    except (OSError, ValueError) as exc:  # missing from the store, or not the bytes recorded
        raise DomainError("run", f"the trained weights of run {artifact.run_id} cannot be read: {exc}") from exc
    if not weights_file.is_file():
        raise DomainError("run", f"the trained weights of run {artifact.run_id} are missing")
    card = card_for_artifact(artifact)
    try:
        with transaction.atomic():
            variant = ModelVariant.objects.create(
                project=artifact.run.project, kind=ModelKind.TRAINED, name=card["name"][:200], artifact=artifact,
                parent=_finetuned_from(artifact), graph_version=artifact.graph_version, status=JobStatus.SUCCEEDED,
                card=card, created_by=created_by or artifact.run.created_by, finished_at=timezone.now())
            folder = variant_folder(variant)
            save_package(ModelPackage(artifact.graph_version.document, load_file(str(weights_file)), card), folder)
            deploy_store.publish_folder(folder)
            variant.folder = relative_path(folder)
            variant.save(update_fields=["folder"])
    except IntegrityError:  # made by a concurrent request
        return ModelVariant.objects.get(artifact=artifact, kind=ModelKind.TRAINED)
    return variant


def on_run_succeeded(run_id: int, **_kwargs: Any) -> None:
    """``domain.runs.signals.run_succeeded``: the run's trained model, in the transaction that marks
    the run succeeded, so it is listed, countable and deployable from then on. A run that saved no
    weights (no best checkpoint) has no model."""
    artifact = RunArtifact.objects.select_related("run__project", "run__dataset_version__dataset",
                                                  "graph_version__graph").filter(run_id=run_id).first()
    if artifact is not None:
        trained_variant(artifact)


def _require_ready(variant: ModelVariant, field: str = "model") -> None:
    if variant.status != JobStatus.SUCCEEDED:
        raise DomainError(field, f"model {variant.pk} is {variant.status}, not ready")


def request_prune(user: AbstractBaseUser, variant: ModelVariant, raw_config: dict[str, Any]) -> ModelVariant:
    """Queue a structured pruning of ``variant``; the result is a new variant with its own graph version."""
    from pipelines.compress.prune import PruneConfig

    require_role(user, variant.project, Role.EDITOR)
    _require_ready(variant)
    if variant.kind == ModelKind.QUANTIZED:
        raise DomainError("model", "an int8 model cannot be pruned; prune the model it was made from")
    try:
        config = PruneConfig.model_validate(raw_config)
    except PydanticValidationError as exc:
        raise _field_errors(exc, "config") from exc
    return _queue_variant(user, variant, ModelKind.PRUNED, config.model_dump(mode="json"),
                          f"{variant.name} pruned ({config.method})")


def start_finetune(variant: ModelVariant) -> Any:
    """The fine-tuning epochs a pruned ``variant`` asked for, as a training run of its graph version
    on the data of the run it came from, starting from its weights at a tenth of that run's
    learning rate. Returns the run, or ``None`` when none was asked for."""

    epochs = int(variant.config.get("finetune_epochs") or 0)
    if epochs <= 0 or variant.graph_version is None or variant.created_by is None:
        return None
    source = variant.artifact.run
    config = {key: value for key, value in source.config.items() if key not in ("init_weights", "freeze")}
    optimizer = dict(config.get("optimizer") or {})
    optimizer["lr"] = float(optimizer.get("lr") or 1e-3) / 10
    config |= {"epochs": epochs, "optimizer": optimizer, "init_weights": {"model": variant.pk}}
    return create_run(variant.created_by, variant.graph_version, source.dataset_version, config)


def request_quantize(user: AbstractBaseUser, variant: ModelVariant, mode: str, calibration_samples: int) -> ModelVariant:
    """Queue an int8 post-training quantization of ``variant``."""
    require_role(user, variant.project, Role.EDITOR)
    _require_ready(variant)
    if variant.kind == ModelKind.QUANTIZED:
        raise DomainError("model", "this model is already int8")
    return _queue_variant(user, variant, ModelKind.QUANTIZED,
                          {"mode": mode, "calibration_samples": calibration_samples},
                          f"{variant.name} int8 ({mode})")


def _queue_variant(user: AbstractBaseUser, parent: ModelVariant, kind: str, config: dict[str, Any],
                   name: str) -> ModelVariant:
    with transaction.atomic():
        variant = ModelVariant.objects.create(project=parent.project, kind=kind, name=name[:200],
                                              artifact=parent.artifact, parent=parent, config=config,
                                              created_by=user)
        transaction.on_commit(lambda: enqueue("deploy.compress_variant", variant.pk, queue="cpu"))
    return variant


# ---- exports ---------------------------------------------------------------------------------
def request_export(user: AbstractBaseUser, variant: ModelVariant, fmt: str) -> ModelExport:
    require_role(user, variant.project, Role.EDITOR)
    _require_ready(variant)
    if fmt not in EXPORT_FORMATS:
        raise DomainError("format", f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if variant.kind == ModelKind.QUANTIZED and fmt != "onnx":
        raise DomainError("format", "an int8 model exports as onnx only")
    with transaction.atomic():
        export = ModelExport.objects.create(variant=variant, format=fmt, created_by=user)
        transaction.on_commit(lambda: enqueue("deploy.export_variant", export.pk, queue="cpu"))
    return export


def export_file(export: ModelExport) -> Path | None:
    if export.status != JobStatus.SUCCEEDED or not export.file:
        return None
    try:  # with a shared store, the export is installed here from it first
        deploy_store.local_folder(Path(export.file).parent.as_posix())
    except (OSError, ValueError):
        return None
    path = (models_dir() / export.file).resolve()
    return path if path.is_file() and path.is_relative_to(models_dir().resolve()) else None


# ---- deployments -----------------------------------------------------------------------------
def _new_key() -> tuple[str, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode()).hexdigest()


def deploy(user: AbstractBaseUser, variant: ModelVariant, name: str) -> tuple[Deployment, str]:
    """Create a deployment of ``variant`` at ``/v2/models/<name>`` and its first API key. Returns the
    deployment and the key in clear: it is never shown again."""
    require_role(user, variant.project, Role.EDITOR)
    _require_ready(variant)
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(project=variant.project, variant=variant, name=name,
                                                   created_by=user)
            key = _store_key(user, deployment, "default")
            transaction.on_commit(lambda: enqueue("deploy.prepare_deployment", deployment.pk, queue="cpu"))
    except IntegrityError as exc:
        raise DomainError("name", f"a live deployment is already called {name!r}") from exc
    return deployment, key


def _store_key(user: AbstractBaseUser, deployment: Deployment, name: str) -> str:
    key, digest = _new_key()
    DeploymentKey.objects.create(deployment=deployment, name=name, prefix=key[:12], digest=digest, created_by=user)
    return key


def create_key(user: AbstractBaseUser, deployment: Deployment, name: str = "") -> tuple[DeploymentKey, str]:
    require_role(user, deployment.project, Role.EDITOR)
    if deployment.status == JobStatus.CANCELLED:
        raise DomainError("deployment", "the deployment is stopped")
    key = _store_key(user, deployment, name)
    return DeploymentKey.objects.get(digest=hashlib.sha256(key.encode()).hexdigest()), key


def revoke_key(user: AbstractBaseUser, key: DeploymentKey) -> DeploymentKey:
    require_role(user, key.deployment.project, Role.EDITOR)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])  # the save republishes the serving index
    return key


def undeploy(user: AbstractBaseUser, deployment: Deployment) -> Deployment:
    """Stop serving: the name is freed, keys stop working, and serving processes drop the model."""
    require_role(user, deployment.project, Role.EDITOR)
    lifecycle.finish(Deployment, deployment.pk, JobStatus.CANCELLED, stopped_at=timezone.now(),
                     only_from=(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED))
    serving.publish_on_commit()  # the serving app refuses the name from its next request on
    from pipelines.serving.runtime import models

    models.evict(f"{deployment.pk}:")
    if deployment.folder:
        shutil.rmtree(models_dir() / deployment.folder, ignore_errors=True)
        transaction.on_commit(lambda folder=deployment.folder: deploy_store.unpublish_folder(folder))
    deployment.refresh_from_db()
    return deployment


def record_requests(deployment_id: int, count: int, errors: int, latencies_ms: list[float]) -> None:
    """Add a batch of served requests to the deployment's counters and recent latencies."""
    with transaction.atomic():
        row = Deployment.objects.select_for_update().only("latencies_ms").filter(pk=deployment_id).first()
        if row is None:  # deleted since
            return
        recent = (list(row.latencies_ms) + [round(v, 3) for v in latencies_ms])[-LATENCY_WINDOW:]
        Deployment.objects.filter(pk=deployment_id).update(
            request_count=F("request_count") + count, error_count=F("error_count") + errors, latencies_ms=recent)


def metrics(deployment: Deployment) -> dict[str, Any]:
    import numpy as np

    recent = np.asarray(deployment.latencies_ms or [], dtype=float)
    percentiles = ({f"p{q}": round(float(np.percentile(recent, q)), 3) for q in (50, 95, 99)}
                   if recent.size else {"p50": None, "p95": None, "p99": None})
    return {"requests": deployment.request_count, "errors": deployment.error_count,
            "latency_ms": percentiles, "latency_window": int(recent.size)}
