"""Migration 0012: every succeeded run with saved weights that had no model gets its trained model
(listed, with its bundle on disk and a card that carries the run's metrics and preprocessing);
other runs are left as they were."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from safetensors.torch import save_file

from tests.model_factories import DIGIT_CLASSES, trained_package

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("builder", "0011_graph_template"), ("builder", "0012_models_for_succeeded_runs")
METRICS = {"best": {"epoch": 1, "accuracy": 0.9}, "test": {"accuracy": 0.91}}
PREPROCESSING = {"input": "image", "channels": 1, "size": [8, 8], "scale": 1 / 255, "resize": None}


def _migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def _latest() -> str:
    executor = MigrationExecutor(connection)
    return max(name for app, name in executor.loader.graph.leaf_nodes() if app == "builder")


@pytest.fixture
def folders(settings: Any, tmp_path: Path) -> Path:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    return tmp_path


def test_succeeded_runs_without_a_model_get_one(folders: Path) -> None:
    package = trained_package("concat")
    old = _migrate(BEFORE)
    model = old.get_model
    user = model("auth", "User").objects.create(username="backfill")
    project = model("builder", "Project").objects.create(name="p", owner=user)
    graph = model("builder", "Graph").objects.create(project=project, name="digits net")
    version = model("builder", "GraphVersion").objects.create(graph=graph, number=3, document=package.document)
    dataset = model("builder", "Dataset").objects.create(project=project, name="digits", kind="image")
    data = model("builder", "DatasetVersion").objects.create(
        dataset=dataset, number=1, status="succeeded", recipe={"kind": "image", "input": "image",
                                                               "task": "classification"})
    (folders / "runs").mkdir()
    save_file({k: v.contiguous() for k, v in package.weights.items()}, str(folders / "runs" / "w.safetensors"))
    Run, Artifact, Variant = (model("builder", name) for name in ("TrainingRun", "RunArtifact", "ModelVariant"))

    def run(status: str, weights: str = "w.safetensors", **config: Any) -> Any:
        made = Run.objects.create(project=project, graph_version=version, dataset_version=data, status=status,
                                  config={"epochs": 2, **config}, created_by=user)
        return Artifact.objects.create(run=made, graph_version=version, weights_path=weights, weights_sha256="0" * 64,
                                       metrics=METRICS, config=made.config, preprocessing=PREPROCESSING,
                                       classes=DIGIT_CLASSES)

    plain = run("succeeded")
    has_one = run("succeeded")
    existing = Variant.objects.create(project=project, kind="trained", name="made before", artifact=has_one,
                                      status="succeeded")
    pruned = Variant.objects.create(project=project, kind="pruned", name="pruned", artifact=has_one, parent=existing,
                                    status="succeeded")
    finetuned = run("succeeded", init_weights={"model": pruned.pk})
    failed = run("failed")
    lost = run("succeeded", weights="gone.safetensors")
    broken = run("succeeded")  # a graph version whose document no longer reads: skipped, not fatal
    broken_version = model("builder", "GraphVersion").objects.create(graph=graph, number=4, document={"nodes": 7})
    Artifact.objects.filter(pk=broken.pk).update(graph_version=broken_version)

    new = _migrate(AFTER).get_model("builder", "ModelVariant")
    trained = {v.artifact_id: v for v in new.objects.filter(kind="trained")}
    assert set(trained) == {plain.pk, has_one.pk, finetuned.pk}
    assert trained[has_one.pk].pk == existing.pk and trained[has_one.pk].name == "made before"
    made = trained[plain.pk]
    assert made.status == "succeeded" and made.name == f"digits net v3 (run {plain.run_id})"
    assert made.created_by_id == user.pk and made.graph_version_id == version.pk and made.parent_id is None
    assert made.card["metrics"] == METRICS and made.card["inputs"][0]["preprocessing"] == PREPROCESSING
    assert made.card["inputs"][0]["shape"] == [-1, 1, 8, 8] and made.card["classes"] == DIGIT_CLASSES
    assert made.card["lineage"] == [{"kind": "trained", "run": plain.run_id, "graph_version": version.pk}]
    bundle = folders / "models" / made.folder
    assert json.loads((bundle / "card.json").read_text())["metrics"] == METRICS
    assert (bundle / "weights.safetensors").is_file() and (bundle / "graph.json").is_file()
    child = trained[finetuned.pk]
    assert child.parent_id == pruned.pk and child.card["lineage"][0] == {"kind": "fine-tuned from", "model": pruned.pk}
    assert not new.objects.filter(artifact_id__in=[failed.pk, lost.pk, broken.pk]).exists()

    # The made models are real ones: the bundle loads and classifies as the trained package does.
    from pipelines.export.package import load_package

    loaded = load_package(bundle)
    assert set(loaded.weights) == set(package.weights)
    _migrate(BEFORE)  # reversible (nothing removed), and forward again is a no-op for what exists
    assert _migrate(AFTER).get_model("builder", "ModelVariant").objects.filter(kind="trained").count() == 3
    _migrate(("builder", _latest()))
