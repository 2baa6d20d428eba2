"""Every succeeded run with saved weights is a model. Runs since models appear at once get theirs in
the transaction that marks them succeeded (``domain.deploy.services.on_run_succeeded``); this makes
the trained model (``ModelVariant``, kind ``trained``) of each earlier one: training runs and the
fine-tuning runs of pruned models alike, with the bundle written under ``DEPLOY_DIR`` as
``trained_variant`` writes it. The historical models are used, and the card is built by the pure
``make_card``, so later changes to the domain code cannot change what this migration does. A run
whose weights file is gone is left without a model (its page says why when it is opened).
Reversing removes nothing: the models may have been deployed since."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import migrations, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


def _card(artifact: Any, parent: Any) -> dict[str, Any]:
    from pipelines.export.package import make_card

    run, version = artifact.run, artifact.graph_version
    dataset_version = run.dataset_version
    recipe = dataset_version.recipe or {}
    lineage: list[dict[str, Any]] = [{"kind": "trained", "run": run.pk, "graph_version": version.pk}]
    if parent is not None:
        lineage.insert(0, {"kind": "fine-tuned from", "model": parent.pk})
    return make_card(
        version.document, name=f"{version.graph.name} v{version.number} (run {run.pk})",
        task=str(recipe.get("task") or (run.config or {}).get("task") or "classification"),
        classes=list(artifact.classes or []), preprocessing=artifact.preprocessing, metrics=artifact.metrics,
        training_config=artifact.config,
        dataset={"id": dataset_version.dataset_id, "version": dataset_version.pk,
                 "name": dataset_version.dataset.name, "kind": recipe.get("kind") or recipe.get("input")},
        lineage=lineage)


def make_missing_models(apps: Any, schema_editor: Any) -> None:
    RunArtifact = apps.get_model("builder", "RunArtifact")
    ModelVariant = apps.get_model("builder", "ModelVariant")
    missing = (RunArtifact.objects.filter(run__status="succeeded")
               .exclude(variants__kind="trained")
               .select_related("run__project", "run__dataset_version__dataset", "graph_version__graph")
               .order_by("pk"))
    models_dir = Path(settings.DEPLOY_DIR)
    for artifact in missing:
        weights = Path(settings.TRAINING_RUNS_DIR) / artifact.weights_path
        if not artifact.weights_path or not weights.is_file():
            log.warning("run %s succeeded but its weights %s are missing: no model made", artifact.run_id, weights)
            continue
        try:
            with transaction.atomic():  # a savepoint: one unreadable old run must not stop the upgrade
                _make_model(ModelVariant, artifact, weights, models_dir)
        except Exception:  # noqa: BLE001  (logged; "Open the trained model" on its run page says why)
            log.exception("no model made for run %s", artifact.run_id)


def _make_model(ModelVariant: Any, artifact: Any, weights: Path, models_dir: Path) -> None:
    from safetensors.torch import load_file

    from pipelines.export.package import ModelPackage, save_package

    run = artifact.run
    parent_id = ((run.config or {}).get("init_weights") or {}).get("model")
    parent = (ModelVariant.objects.filter(pk=parent_id, project_id=run.project_id).first()
              if isinstance(parent_id, int) else None)
    card = _card(artifact, parent)
    variant = ModelVariant.objects.create(
        project_id=run.project_id, kind="trained", name=card["name"][:200], artifact=artifact, parent=parent,
        graph_version_id=artifact.graph_version_id, status="succeeded", card=card,
        created_by_id=run.created_by_id, finished_at=run.finished_at or timezone.now())
    folder = models_dir / "variants" / str(variant.pk)
    save_package(ModelPackage(artifact.graph_version.document, load_file(str(weights)), card), folder)
    variant.folder = folder.relative_to(models_dir).as_posix()
    variant.save(update_fields=["folder"])


class Migration(migrations.Migration):

    dependencies = [
        ('builder', '0011_graph_template'),
    ]

    operations = [
        migrations.RunPython(make_missing_models, migrations.RunPython.noop, elidable=True),
    ]
