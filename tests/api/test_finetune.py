"""Fine-tuning through POST /api/v1/runs/: starting weights from a market version or a fork, frozen
nodes, the head resized as a new graph version, the lower default learning rate, and the 400s.
No worker here: runs are created inside a rolled-back transaction, so nothing is ever queued."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects import services
from domain.projects.models import GraphVersion
from pipelines.training.config import FINETUNE_LR
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db
RUNS = "/api/v1/runs/"


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.MARKET_DIR = tmp_path / "market"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


def _dataset_version(project: Any, user: Any, classes: int) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, name="scans", kind="image", created_by=user)
    return DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification",
        classes=[f"c{i}" for i in range(classes)], sample_count=300, created_by=user,
        recipe={"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"})


@pytest.fixture
def market(api: APIClient, alice: Any, client_for: Any, bob: Any) -> dict[str, Any]:
    """Alice publishes a trained digits model; Bob forks it into his project, which has a
    three-class dataset."""
    artifact = make_artifact(alice, "concat")
    entry = api.post("/api/v1/market/entries/", {"run": artifact.run_id, "title": "Digits", "visibility": "public"},
                     format="json").json()
    version_id = entry["versions"][0]["id"]
    bob_api = client_for(bob)
    project = services.create_project(bob, name="scans")
    forked = bob_api.post(f"/api/v1/market/versions/{version_id}/fork/", {"project": project.pk},
                          format="json").json()
    return {"api": bob_api, "version": version_id, "fork": forked, "project": project,
            "dataset_version": _dataset_version(project, bob, classes=3)}


def _body(market: dict[str, Any], **config: Any) -> dict[str, Any]:
    return {"graph_version": market["fork"]["graph_version"], "dataset_version": market["dataset_version"].pk,
            "config": {"epochs": 2, **config}}


def test_fine_tune_from_a_fork_resizes_the_head_in_a_new_version(market: dict[str, Any]) -> None:
    response = market["api"].post(RUNS, _body(market, init_weights={"fork": market["fork"]["id"]},
                                              freeze=["a", "b"]), format="json")
    assert response.status_code == 202, response.json()
    run = response.json()
    config = run["config"]
    assert config["freeze"] == ["a", "b"] and config["optimizer"]["lr"] == FINETUNE_LR
    assert config["init_weights"]["drop"] == ["logits"]
    assert config["init_weights"]["sha256"] == market["fork"]["weights_sha256"]
    assert Path(config["init_weights"]["path"]).is_file()
    trained = GraphVersion.objects.get(pk=run["graph_version"])
    assert trained.pk != market["fork"]["graph_version"] and trained.parent_id == market["fork"]["graph_version"]
    head = next(n for n in trained.document["nodes"] if n["id"] == "logits")
    assert head["params"]["out_features"] == 3
    assert run["plan"]["output"].startswith("logits")


def test_fine_tune_from_a_market_version_keeps_a_fitting_head_and_an_explicit_lr(
        market: dict[str, Any], bob: Any) -> None:
    ten = _dataset_version(market["project"], bob, classes=10)
    body = {**_body(market, init_weights={"market_version": market["version"], "path": "/etc/passwd"},
                    optimizer={"lr": 3e-3}), "dataset_version": ten.pk}
    response = market["api"].post(RUNS, body, format="json")
    assert response.status_code == 202, response.json()
    run = response.json()
    assert run["graph_version"] == market["fork"]["graph_version"]  # ten classes: the head fits
    assert run["config"]["init_weights"]["drop"] == [] and run["config"]["optimizer"]["lr"] == 3e-3
    assert run["config"]["init_weights"]["path"] != "/etc/passwd"  # only the server names files


def test_estimate_creates_no_version(market: dict[str, Any]) -> None:
    before = GraphVersion.objects.count()
    response = market["api"].post(f"{RUNS}estimate/", _body(market, init_weights={"fork": market["fork"]["id"]}),
                                  format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["config"]["init_weights"]["drop"] == ["logits"]
    assert GraphVersion.objects.count() == before


@pytest.mark.parametrize(("config", "field"), [
    ({"freeze": ["a", "nope"]}, "config.freeze[1]"),
    ({"init_weights": {"fork": 1, "market_version": 1}}, "config.init_weights"),
    ({"init_weights": {}}, "config.init_weights"),
    ({"init_weights": {"fork": 999_999}}, "config.init_weights.fork"),
    ({"init_weights": {"market_version": 999_999}}, "config.init_weights.market_version"),
    ({"init_weights": {"fork": "x"}}, "config.init_weights.fork"),
])
def test_bad_fine_tune_fields_are_400s_naming_the_field(market: dict[str, Any], config: dict, field: str) -> None:
    response = market["api"].post(RUNS, _body(market, **config), format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


def test_a_template_has_no_weights_to_start_from(market: dict[str, Any], bob: Any) -> None:
    graph = services.create_graph(bob, market["project"], name="lenet")
    template = services.create_graph_version(bob, graph, document=get_template("lenet5"))
    entry = market["api"].post("/api/v1/market/entries/", {"graph_version": template.pk}, format="json").json()
    response = market["api"].post(RUNS, _body(market, init_weights={"market_version": entry["versions"][0]["id"]}),
                                  format="json")
    assert response.status_code == 400
    assert "template" in response.json()["config.init_weights.market_version"][0]


def test_a_private_version_or_another_projects_fork_is_refused(market: dict[str, Any], alice: Any,
                                                              api: APIClient) -> None:
    private = make_artifact(alice, "concat")
    entry = api.post("/api/v1/market/entries/", {"run": private.run_id, "title": "Mine"}, format="json").json()
    response = market["api"].post(RUNS, _body(market, init_weights={"market_version": entry["versions"][0]["id"]}),
                                  format="json")
    assert response.status_code == 400 and "config.init_weights.market_version" in response.json()
    other = services.create_project(alice, name="elsewhere")
    alices_fork = api.post(f"/api/v1/market/versions/{market['version']}/fork/", {"project": other.pk},
                           format="json").json()
    response = market["api"].post(RUNS, _body(market, init_weights={"fork": alices_fork["id"]}), format="json")
    assert response.status_code == 400 and "config.init_weights.fork" in response.json()


def test_weights_that_fit_nothing_are_refused(market: dict[str, Any], bob: Any) -> None:
    graph = services.create_graph(bob, market["project"], name="other")
    other = services.create_graph_version(bob, graph, document=_dense())
    response = market["api"].post(RUNS, {**_body(market, init_weights={"fork": market["fork"]["id"]}),
                                         "graph_version": other.pk}, format="json")
    assert response.status_code == 400 and "fit" in response.json()["config.init_weights"][0]


def _dense() -> dict[str, Any]:
    nodes = [("image", "image_input", {"channels": 1, "height": 8, "width": 8}), ("flat", "flatten", {}),
             ("dense", "linear", {"out_features": 3})]
    return {"schema_version": 1, "name": "tiny",
            "nodes": [{"id": i, "type": t, "params": p, "position": {"x": 0.0, "y": 0.0}} for i, t, p in nodes],
            "edges": [{"source": a[0], "source_port": "out", "target": b[0], "target_port": "in"}
                      for a, b in zip(nodes, nodes[1:], strict=False)]}
