"""Compression, export and deployment tasks: ids in, the pure runtime (``pipelines.compress``,
``pipelines.export``, ``pipelines.serving``) does the work, status leaves through
``domain.events.publish`` to the project's sockets."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from domain.deploy import services as deploy_services
from domain.deploy import serving as deploy_serving
from domain.deploy import store as deploy_store
from domain.deploy.evaluate import evaluate_splits, onnx_runner, package_runner
from domain.deploy.models import Deployment, ModelExport, ModelKind, ModelVariant
from domain.events import project_group, publish
from domain.jobs import lifecycle
from domain.jobs.models import JobStatus
from domain.projects.services import DomainError, create_graph_version

log = logging.getLogger(__name__)
SAMPLES = 256


def _publish(project_id: int, event: dict[str, Any]) -> None:
    try:
        publish(project_group(project_id), event)
    except Exception:  # noqa: BLE001  (a lost event must not fail the job; the API has the status)
        log.exception("could not publish %s", event.get("type"))


def _error(exc: Exception) -> dict[str, str]:
    return {"code": getattr(exc, "code", "failed"), "message": getattr(exc, "message", None) or str(exc)}


def real_samples(variant: ModelVariant, n: int = SAMPLES) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None, str]:
    """Up to ``n`` samples of the dataset the model was trained on (validation split first), resized
    as in training; random inputs of the right shape when the cache is gone (``source`` says which)."""
    from builder.graph.compiler import example_inputs
    from domain.datasets.services import held_cache
    from pipelines.datasets.loader import CachedDataset
    from pipelines.training.data import resize_to

    run = variant.artifact.run
    document = (variant.graph_version or variant.artifact.graph_version).document
    try:
        with held_cache(run.dataset_version) as cache:  # not evicted between the splits
            for split in ("val", "test", "train"):
                dataset = CachedDataset(cache, split)
                if len(dataset):
                    x, y = dataset[list(range(min(n, len(dataset))))]
                    transform = resize_to(tuple(run.plan["resize"]) if run.plan.get("resize") else None)
                    source = f"dataset version {run.dataset_version_id} ({split})"
                    return ((transform(x) if transform else x),), y.long(), source
    except Exception:  # noqa: BLE001  (a missing or unreadable cache falls back to random inputs)
        log.info("no cached samples for variant %s; using random inputs", variant.pk)
    return example_inputs(document, batch_size=min(n, 32)), None, "random"


@shared_task(name="deploy.compress_variant")
def compress_variant(variant_id: int) -> str:
    """Prune or quantize a variant's parent into this variant's folder, with the before/after report."""
    variant = ModelVariant.objects.select_related("parent", "artifact__run", "project").get(pk=variant_id)
    # Claimed by one conditional update: a task delivered twice compresses (and fine-tunes) once.
    if not lifecycle.begin(ModelVariant, variant.pk):
        return ModelVariant.objects.get(pk=variant.pk).status
    _publish(variant.project_id, {"type": "model.status", "model": variant.pk, "status": JobStatus.RUNNING})
    try:
        fields = _prune(variant) if variant.kind == ModelKind.PRUNED else _quantize(variant)
    except Exception as exc:  # noqa: BLE001  (recorded on the variant for the person to read)
        log.exception("compression of variant %s failed", variant.pk)
        lifecycle.fail(ModelVariant, variant.pk, _error(exc))
        _publish(variant.project_id, {"type": "model.status", "model": variant.pk, "status": JobStatus.FAILED,
                                      "error": _error(exc)})
        return JobStatus.FAILED
    # One transaction: nobody sees the pruned model succeeded before its report says which
    # fine-tuning run started (the run is queued on commit).
    with transaction.atomic():
        lifecycle.finish(ModelVariant, variant.pk, **fields)
        if variant.kind == ModelKind.PRUNED:
            fields["report"] |= _finetune(variant)
            ModelVariant.objects.filter(pk=variant.pk).update(report=fields["report"])
    _publish(variant.project_id, {"type": "model.status", "model": variant.pk, "status": JobStatus.SUCCEEDED,
                                  "report": fields.get("report", {})})
    return JobStatus.SUCCEEDED


def _finetune(variant: ModelVariant) -> dict[str, Any]:
    """Start the fine-tuning run the pruning asked for; what became of it goes into the report."""
    variant.refresh_from_db()
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the pruned model's transaction usable
            run = deploy_services.start_finetune(variant)
    except DomainError as exc:  # e.g. the original dataset version was deleted meanwhile
        return {"finetune_error": {"field": exc.field, "message": exc.message}}
    except Exception as exc:  # noqa: BLE001  (the pruned model stands; say why no run started)
        log.exception("the fine-tuning run of variant %s could not start", variant.pk)
        return {"finetune_error": {"field": "config.finetune_epochs", "message": f"could not start: {exc}"}}
    return {"finetune_run": run.pk} if run is not None else {}


def _parent_package(variant: ModelVariant) -> Any:
    from pipelines.export.package import load_package

    assert variant.parent is not None
    return load_package(deploy_store.local_folder(variant.parent.folder))


def _prune(variant: ModelVariant) -> dict[str, Any]:
    from pipelines.compress.prune import PruneConfig, prune_package
    from pipelines.compress.report import compare, measure_package
    from pipelines.export.package import make_card, save_package

    package = _parent_package(variant)
    samples, labels, source = real_samples(variant)
    result = prune_package(package, PruneConfig.model_validate(variant.config), samples, labels)
    parent_version = variant.parent.graph_version if variant.parent else None
    assert parent_version is not None and variant.created_by is not None
    version = create_graph_version(
        variant.created_by, parent_version.graph, document=result.package.document, parent=parent_version,
        message=f"pruned from v{parent_version.number} ({variant.config.get('method')}); model {variant.pk}")
    lineage = [*package.card.get("lineage", []), {"kind": "pruned", "model": variant.pk, "config": variant.config,
                                                   "graph_version": version.pk}]
    card = {**make_card(result.package.document, name=variant.name, task=package.card.get("task", "classification"),
                        classes=package.card.get("classes"),
                        preprocessing=(package.card.get("inputs") or [{}])[0].get("preprocessing"),
                        metrics=evaluate_splits(variant.artifact.run, package.card.get("task", "classification"),
                                                package_runner(result.package)),
                        dataset=package.card.get("dataset"),
                        training_config=package.card.get("training_config")), "lineage": lineage}
    pruned = result.package.with_card(**card)
    folder = deploy_services.variant_folder(variant)
    save_package(pruned, folder)
    deploy_store.publish_folder(folder)
    report = compare(measure_package(package, samples, labels), measure_package(pruned, samples, labels))
    report |= {"samples": source, "changes": result.changes, "target_reached": result.target_reached,
               "parity_max_abs_diff": result.parity_max_abs_diff, "notes": result.notes}
    return {"graph_version": version, "folder": deploy_services.relative_path(folder), "card": pruned.card,
            "report": report}


def _quantize(variant: ModelVariant) -> dict[str, Any]:
    import json

    from pipelines.compress.quantize import quantize_package
    from pipelines.compress.report import compare, measure_onnx, measure_package

    package = _parent_package(variant)
    samples, labels, source = real_samples(variant)
    folder = deploy_services.variant_folder(variant)
    path, mode = quantize_package(package, folder, mode=variant.config.get("mode", "auto"),
                                  calibration=tuple(s[: variant.config.get("calibration_samples", 128)] for s in samples))
    before = measure_package(package, samples, labels)
    report = compare(before, measure_onnx(path, samples, labels, params=before["params"], flops=before["flops"]))
    report |= {"samples": source, "mode": mode}
    card = json.loads((folder / "card.json").read_text())
    card["metrics"] = evaluate_splits(variant.artifact.run, card.get("task", "classification"), onnx_runner(path))
    (folder / "card.json").write_text(json.dumps(card, indent=1))
    deploy_store.publish_folder(folder)
    return {"graph_version": variant.parent.graph_version if variant.parent else None,
            "folder": deploy_services.relative_path(folder), "card": card, "report": report,
            "config": {**variant.config, "mode_used": mode}}


@shared_task(name="deploy.export_variant")
def export_variant(export_id: int) -> str:
    """Write one export and verify it on real samples."""
    from pipelines.export.formats import export_package
    from pipelines.export.onnx_export import check_external_data
    from pipelines.export.package import load_package

    export = ModelExport.objects.select_related("variant__artifact__run", "variant__project").get(pk=export_id)
    if not lifecycle.begin(ModelExport, export.pk):  # claimed once: a task delivered twice exports once
        return ModelExport.objects.get(pk=export.pk).status
    variant = export.variant
    folder = deploy_services.models_dir() / "exports" / str(export.pk)
    try:
        samples, _labels, source = real_samples(variant, 64)
        source_folder = deploy_store.local_folder(variant.folder)
        if variant.kind == ModelKind.QUANTIZED:
            folder.mkdir(parents=True, exist_ok=True)
            check_external_data(source_folder / "model.onnx")
            path = folder / "model.onnx"
            shutil.copyfile(source_folder / "model.onnx", path)
            verification = {"format": "onnx", "file": path.name, "bytes": path.stat().st_size,
                            "note": "the int8 model is the export; its accuracy is in the model's report"}
        else:
            result = export_package(load_package(source_folder), export.format, folder, samples)
            path, verification = result.path, result.to_dict()
        verification["samples_source"] = source
        deploy_store.publish_folder(folder)  # the web process that offers the download may be elsewhere
    except Exception as exc:  # noqa: BLE001
        log.exception("export %s failed", export.pk)
        lifecycle.fail(ModelExport, export.pk, _error(exc))
        _publish(variant.project_id, {"type": "export.status", "export": export.pk, "status": JobStatus.FAILED})
        return JobStatus.FAILED
    lifecycle.finish(ModelExport, export.pk, file=deploy_services.relative_path(Path(path)),
                     verification=verification)
    _publish(variant.project_id, {"type": "export.status", "export": export.pk, "status": JobStatus.SUCCEEDED,
                                  "verification": verification})
    return JobStatus.SUCCEEDED


@shared_task(name="deploy.prepare_deployment")
def prepare_deployment(deployment_id: int) -> str:
    """Lay out the serving folder (ONNX for speed, verified against the bundle; the bundle itself when
    ONNX export is not possible), load it once as a smoke test, and mark the deployment ready."""
    deployment = Deployment.objects.select_related("variant__artifact__run").get(pk=deployment_id)
    if not lifecycle.begin(Deployment, deployment.pk):  # claimed once: a task delivered twice prepares once
        return Deployment.objects.get(pk=deployment.pk).status
    folder = deploy_services.models_dir() / "deployments" / str(deployment.pk)
    try:
        _serving_folder(deployment.variant, folder)
        from pipelines.serving.runtime import load_model

        model = load_model(folder)
        samples, _labels, _source = real_samples(deployment.variant, 2)
        model.infer([s.numpy() for s in samples])
        deploy_store.publish_folder(folder)  # with a shared store: what serving processes load
    except Exception as exc:  # noqa: BLE001
        log.exception("deployment %s failed", deployment.pk)
        lifecycle.fail(Deployment, deployment.pk, _error(exc))
        deploy_serving.publish_on_commit()
        _publish(deployment.project_id, {"type": "deployment.status", "deployment": deployment.pk,
                                         "status": JobStatus.FAILED})
        return JobStatus.FAILED
    lifecycle.finish(Deployment, deployment.pk, folder=deploy_services.relative_path(folder), ready_at=timezone.now())
    deploy_serving.publish_on_commit()  # the serving app answers for it from its next request on
    _publish(deployment.project_id, {"type": "deployment.status", "deployment": deployment.pk,
                                     "status": JobStatus.SUCCEEDED})
    return JobStatus.SUCCEEDED


def _serving_folder(variant: ModelVariant, folder: Path) -> None:
    import json

    from pipelines.export.formats import ExportError, export_package
    from pipelines.export.package import CARD_FILE, load_package

    source = deploy_store.local_folder(variant.folder)
    shutil.rmtree(folder, ignore_errors=True)
    if variant.kind == ModelKind.QUANTIZED:
        shutil.copytree(source, folder)
        return
    package = load_package(source)
    try:
        samples, _labels, _source = real_samples(variant, 16)
        export_package(package, "onnx", folder, samples)
        (folder / CARD_FILE).write_text(json.dumps({**package.card, "format": "onnx"}, indent=1))
    except (ExportError, RuntimeError, ValueError) as exc:
        log.warning("serving variant %s with PyTorch: ONNX export failed (%s)", variant.pk, exc)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source, folder)


@shared_task(name="deploy.sync_serving")
def sync_serving() -> int:
    """Fold the serving app's request counts into the deployments and rewrite the serving index
    (the index is also written on every change; this repairs one a crash left stale)."""
    folded = deploy_serving.fold_counts()
    deploy_serving.publish()
    return folded
