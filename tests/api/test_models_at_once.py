"""A succeeded run is a model at once: the transaction that marks the run succeeded makes its
trained model (``domain.runs.signals.run_succeeded``, received by ``domain.deploy``), so the models
list shows it with its metrics, counts it and can deploy it before anyone opens it. A pruned or
int8 model's card carries its own metrics, measured on the dataset's validation and test splits.
The tasks run in-process; nothing is queued (the test's transaction is rolled back)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.datasets.services import cache_folder
from domain.deploy import tasks as tasks_deploy
from domain.deploy.models import ModelVariant
from domain.jobs.models import JobStatus
from domain.runs import services as run_services
from domain.runs.models import TrainingRun
from tests.deploy_factories import make_artifact
from tests.model_factories import digits

pytestmark = pytest.mark.django_db
METRICS = {"best": {"epoch": 2, "accuracy": 0.93, "loss": 0.21}, "test": {"accuracy": 0.9721, "loss": 0.1}}


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.DATASETS_ROOT = tmp_path / "datasets"


@pytest.fixture
def running(alice: Any) -> Any:
    """A run still running, whose artifact (trained digits weights) the training task has saved."""
    artifact = make_artifact(alice, "concat")
    artifact.metrics = METRICS
    artifact.save(update_fields=["metrics"])
    TrainingRun.objects.filter(pk=artifact.run_id).update(status=JobStatus.RUNNING)
    return artifact


def _succeed(artifact: Any) -> None:
    assert run_services.finish_run(artifact.run_id, JobStatus.SUCCEEDED, test_metrics=METRICS["test"])


def test_a_succeeded_run_is_listed_with_its_metrics_before_anyone_opens_it(api: APIClient, running: Any,
                                                                            settings: Any) -> None:
    project = running.run.project_id
    assert api.get(f"/api/v1/models/?project={project}").json()["count"] == 0
    _succeed(running)
    listed = api.get(f"/api/v1/models/?project={project}").json()
    assert listed["count"] == 1
    model = listed["results"][0]
    assert model["kind"] == "trained" and model["status"] == "succeeded" and model["run"] == running.run_id
    assert model["card"]["metrics"]["test"]["accuracy"] == 0.9721
    assert model["card"]["metrics"]["best"]["accuracy"] == 0.93
    folder = Path(settings.DEPLOY_DIR) / ModelVariant.objects.get(pk=model["id"]).folder
    assert json.loads((folder / "card.json").read_text())["metrics"]["test"]["accuracy"] == 0.9721


def test_open_the_trained_model_returns_the_one_made_at_success(api: APIClient, running: Any) -> None:
    _succeed(running)
    made = ModelVariant.objects.get(artifact=running)
    opened = api.post("/api/v1/models/", {"run": running.run_id}, format="json")
    assert opened.status_code == 201 and opened.json()["id"] == made.pk
    assert ModelVariant.objects.filter(artifact=running).count() == 1


def test_the_model_made_at_success_deploys(api: APIClient, running: Any) -> None:
    _succeed(running)
    model = ModelVariant.objects.get(artifact=running)
    response = api.post("/api/v1/deployments/", {"model": model.pk, "name": "digits-at-once"}, format="json")
    assert response.status_code == 201, response.json()
    assert tasks_deploy.prepare_deployment(response.json()["deployment"]["id"]) == "succeeded"


def test_a_run_whose_model_cannot_be_saved_fails_naming_why(api: APIClient, running: Any, settings: Any) -> None:
    (Path(settings.TRAINING_RUNS_DIR) / running.weights_path).unlink()
    assert run_services.finish_run(running.run_id, JobStatus.SUCCEEDED)
    run = api.get(f"/api/v1/runs/{running.run_id}/").json()
    assert run["status"] == "failed" and run["error"]["code"] == "model_not_saved"
    assert "weights" in run["error"]["message"]
    assert not ModelVariant.objects.filter(artifact=running).exists()


def test_other_endings_make_no_model(running: Any) -> None:
    assert run_services.finish_run(running.run_id, JobStatus.CANCELLED)
    assert not ModelVariant.objects.filter(artifact=running).exists()


def test_a_finetune_run_of_a_pruned_model_is_a_model_made_from_it(api: APIClient, alice: Any, running: Any) -> None:
    _succeed(running)
    parent = ModelVariant.objects.get(artifact=running)
    second = make_artifact(alice, "concat", project=running.run.project)
    TrainingRun.objects.filter(pk=second.run_id).update(status=JobStatus.RUNNING,
                                                        config={"epochs": 1, "init_weights": {"model": parent.pk}})
    assert run_services.finish_run(second.run_id, JobStatus.SUCCEEDED)
    listed = api.get(f"/api/v1/models/?project={running.run.project_id}").json()
    assert listed["count"] == 2
    finetuned = next(m for m in listed["results"] if m["run"] == second.run_id)
    assert finetuned["parent"] == parent.pk
    assert finetuned["card"]["lineage"][0] == {"kind": "fine-tuned from", "model": parent.pk}


def _digits_cache(version: Any) -> None:
    """The digits as the version's ingested cache: 1400 train, 200 validation, 197 test."""
    x_train, y_train, x_rest, y_rest = digits()
    x = np.concatenate([x_train.numpy(), x_rest.numpy()])
    y = np.concatenate([y_train.numpy(), y_rest.numpy()])
    folder = cache_folder(version)
    folder.mkdir(parents=True)
    np.save(folder / "inputs.npy", np.rint(x * 255).astype(np.uint8))
    np.save(folder / "targets.npy", y.astype(np.int64))
    np.save(folder / "splits.npy", np.array([0] * 1400 + [1] * 200 + [2] * (len(y) - 1600), dtype=np.int8))
    (folder / "recipe.json").write_text(json.dumps({"input": "image", "channels": 1, "size": [8, 8]}))


@pytest.mark.parametrize("how", ["prune", "quantize"])
def test_a_compressed_models_card_carries_its_own_metrics(api: APIClient, running: Any, how: str) -> None:
    _digits_cache(running.run.dataset_version)
    _succeed(running)
    parent = ModelVariant.objects.get(artifact=running)
    body = {"config": {"method": "l1", "ratio": 0.7}} if how == "prune" else {"mode": "dynamic"}
    response = api.post(f"/api/v1/models/{parent.pk}/{how}/", body, format="json")
    assert response.status_code == 202, response.json()
    assert tasks_deploy.compress_variant(response.json()["id"]) == "succeeded"
    model = api.get(f"/api/v1/models/{response.json()['id']}/").json()
    metrics = model["card"]["metrics"]
    assert set(metrics) == {"val", "test", "evaluated"} and "197" in metrics["evaluated"]
    # Not the parent's figures: measured on this model, and the same as its compression report
    # (which ran it on the same 200 validation samples).
    assert metrics["test"]["accuracy"] != METRICS["test"]["accuracy"]
    assert metrics["val"]["accuracy"] == pytest.approx(model["report"]["after"]["accuracy"], abs=1e-6)
    assert 0.1 < metrics["test"]["accuracy"] <= 1 and "f1_macro" in metrics["test"]
    assert "confusion_matrix" not in metrics["test"]
