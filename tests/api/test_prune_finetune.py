"""Pruning with ``finetune_epochs``: the pruning task starts a training run of the pruned graph
version from the pruned weights (``init_weights: {"model": id}``), and that source's 400s.
The compress task runs in-process; the run is created but never queued (the test's transaction
is rolled back before on_commit). The worker path is in tests/integration/test_prune_finetune.py."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from domain.datasets.models import DatasetVersion
from domain.deploy import tasks as tasks_deploy
from domain.projects import services
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db
RECIPE = {"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"}


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


@pytest.fixture
def artifact(alice: Any) -> Any:
    artifact = make_artifact(alice, "concat")
    DatasetVersion.objects.filter(pk=artifact.run.dataset_version_id).update(recipe=RECIPE, sample_count=300)
    return artifact


def _prune(api: APIClient, model_id: int, **config: Any) -> dict[str, Any]:
    response = api.post(f"/api/v1/models/{model_id}/prune/", {"config": {"ratio": 0.5, **config}}, format="json")
    assert response.status_code == 202, response.json()
    assert tasks_deploy.compress_variant(response.json()["id"]) == "succeeded"
    return api.get(f"/api/v1/models/{response.json()['id']}/").json()


def test_pruning_with_finetune_epochs_starts_a_run_of_the_pruned_version(api: APIClient, artifact: Any,
                                                                           settings: Any) -> None:
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    pruned = _prune(api, model["id"], finetune_epochs=3)

    run = api.get(f"/api/v1/runs/{pruned['report']['finetune_run']}/").json()
    assert run["status"] == "queued" and run["graph_version"] == pruned["graph_version"]
    assert run["dataset_version"] == artifact.run.dataset_version_id
    config = run["config"]
    assert config["epochs"] == 3 and config["optimizer"]["lr"] == pytest.approx(1e-4)  # a tenth of the default
    init = config["init_weights"]
    assert init["model"] == pruned["id"] and Path(init["path"]).is_file()
    assert init["sha256"] == hashlib.sha256(Path(init["path"]).read_bytes()).hexdigest()
    assert Path(init["path"]).name == "weights.safetensors" and Path(init["path"]).is_relative_to(settings.DEPLOY_DIR)


def test_no_finetune_epochs_starts_no_run(api: APIClient, artifact: Any) -> None:
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    pruned = _prune(api, model["id"])
    assert "finetune_run" not in pruned["report"] and "finetune_error" not in pruned["report"]


def test_a_finetune_that_cannot_start_is_reported_and_the_pruned_model_stays(api: APIClient, artifact: Any) -> None:
    DatasetVersion.objects.filter(pk=artifact.run.dataset_version_id).update(status="failed")
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    pruned = _prune(api, model["id"], finetune_epochs=1)
    assert pruned["status"] == "succeeded" and "finetune_run" not in pruned["report"]
    assert pruned["report"]["finetune_error"]["message"]


@pytest.mark.parametrize("case", ["other_project", "quantized", "missing"])
def test_init_weights_model_refusals(api: APIClient, alice: Any, artifact: Any, case: str) -> None:
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    if case == "other_project":
        other = make_artifact(alice, "concat", project=services.create_project(alice, name="elsewhere"))
        source = api.post("/api/v1/models/", {"run": other.run_id}, format="json").json()["id"]
    elif case == "quantized":
        response = api.post(f"/api/v1/models/{model['id']}/quantize/", {"mode": "dynamic"}, format="json")
        source = response.json()["id"]
        assert tasks_deploy.compress_variant(source) == "succeeded"
    else:
        source = 999_999
    body = {"graph_version": artifact.graph_version_id, "dataset_version": artifact.run.dataset_version_id,
            "config": {"epochs": 1, "init_weights": {"model": source}}}
    response = api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "config.init_weights.model" in response.json(), response.json()
