"""/api/v1/runs/ for regression: the run's plan records the target scaling it will train with (the
training split's statistics from the dataset version's recipe), and a scaling that does not fit
the data is a 400 naming config.target_scaling. No worker: nothing is trained here."""
from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.services import create_graph, create_graph_version, create_project

pytestmark = pytest.mark.django_db

STATS = {"split": "train", "count": 80, "mean": 201_000.0, "std": 49_000.0, "min": 90_000.0, "max": 330_000.0,
         "log_mean": 12.18, "log_std": 0.25, "min_all_splits": 85_000.0}


def _regression_setup(user: Any, stats: dict[str, Any] | None, out: dict[str, Any] | None = None,
                      tail: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    project = create_project(user, name="prices")
    dataset = Dataset.objects.create(project=project, name="prices", kind="table", created_by=user)
    recipe: dict[str, Any] = {"input": "table", "layout": "NF", "features": ["a", "b", "c"], "task": "regression"}
    if stats is not None:
        recipe["target_scaling"] = stats
    version = DatasetVersion.objects.create(dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="regression",
                                            classes=[], sample_count=100, created_by=user, recipe=recipe)
    chain = ["features", "out", *(node["id"] for node in tail or [])]  # each node feeds the next
    document = {"schema_version": 1, "name": "price mlp",
                "nodes": [{"id": "features", "type": "vector_input", "params": {"features": 3}},
                          {"id": "out", "type": "linear", "params": out or {"out_features": 1}}, *(tail or [])],
                "edges": [{"source": source, "target": target} for source, target in pairwise(chain)]}
    graph_version = create_graph_version(user, create_graph(user, project, name="mlp"), document=document)
    return {"graph_version": graph_version.pk, "dataset_version": version.pk}


def test_the_default_standardises_with_the_training_splits_statistics(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, STATS)
    response = api.post("/api/v1/runs/", {**body, "config": {"task": "regression"}}, format="json")
    assert response.status_code == 202, response.json()
    run = response.json()
    assert run["config"]["target_scaling"] == "standardize"
    assert run["plan"]["target_transform"] == {"kind": "standardize", "mean": 201_000.0, "std": 49_000.0,
                                               "learnt_on": "train", "inverse": "y = output * std + mean"}


def test_log_and_none(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, STATS)
    log = api.post("/api/v1/runs/estimate/", {**body, "config": {"task": "regression", "target_scaling": "log"}},
                   format="json")
    assert log.status_code == 200, log.json()
    assert log.json()["plan"]["target_transform"]["kind"] == "log"
    assert log.json()["plan"]["target_transform"]["mean"] == 12.18
    none = api.post("/api/v1/runs/estimate/", {**body, "config": {"task": "regression", "target_scaling": "none"}},
                    format="json")
    assert none.status_code == 200 and none.json()["plan"]["target_transform"] is None


def test_log_of_a_non_positive_target_is_a_400_naming_the_field(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, {**STATS, "min_all_splits": -12.5, "log_mean": None, "log_std": None})
    response = api.post("/api/v1/runs/", {**body, "config": {"task": "regression", "target_scaling": "log"}},
                        format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["config.target_scaling"]
    assert "-12.5" in response.json()["config.target_scaling"][0]


def test_an_unknown_scaling_is_a_400_naming_the_field(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, STATS)
    response = api.post("/api/v1/runs/", {**body, "config": {"task": "regression", "target_scaling": "minmax"}},
                        format="json")
    assert response.status_code == 400 and list(response.json()) == ["config.target_scaling"]


def test_a_version_without_statistics_or_cache_is_a_400(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, None)
    response = api.post("/api/v1/runs/", {**body, "config": {"task": "regression"}}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["dataset_version"]


def test_resuming_a_run_from_before_target_scaling_keeps_the_raw_target(api: Any, alice: Any) -> None:
    import json
    import shutil

    from domain.runs.models import TrainingRun
    from domain.runs.services import run_folder

    body = _regression_setup(alice, STATS)
    created = api.post("/api/v1/runs/", {**body, "config": {"task": "regression"}}, format="json").json()
    old = TrainingRun.objects.get(pk=created["id"])
    # As a run made before this change stored it: no target_transform in its plan, no field in its config.
    old.plan = {k: v for k, v in old.plan.items() if k != "target_transform"}
    old.config = {k: v for k, v in old.config.items() if k != "target_scaling"}
    old.status = JobStatus.FAILED
    old.save()
    checkpoints = run_folder(old) / "checkpoints"
    (checkpoints / "epoch-0000").mkdir(parents=True)
    (checkpoints / "latest.json").write_text(json.dumps({"checkpoint": "epoch-0000", "epoch": 0}))
    try:
        resumed = api.post(f"/api/v1/runs/{old.pk}/resume/")
        assert resumed.status_code in (201, 202), resumed.json()
        assert resumed.json()["config"]["target_scaling"] == "none"
        assert resumed.json()["plan"]["target_transform"] is None
    finally:
        shutil.rmtree(run_folder(old), ignore_errors=True)


@pytest.mark.parametrize(("out", "tail", "node"), [
    ({"out_features": 1, "bias": False}, None, "out"),
    (None, [{"id": "squash", "type": "sigmoid", "params": {}}], "squash"),
])
def test_target_mean_on_an_output_without_a_bias_is_a_400_at_creation(
        api: Any, alice: Any, out: Any, tail: Any, node: str) -> None:
    """``output_bias: target_mean`` asked for explicitly is refused when the run is created (not when
    it starts training) where the output is not a layer with a bias; the error names the node."""
    body = _regression_setup(alice, STATS, out=out, tail=tail)
    config = {"task": "regression", "output_bias": "target_mean"}
    response = api.post("/api/v1/runs/", {**body, "config": config}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["config.output_bias"]
    assert repr(node) in response.json()["config.output_bias"][0]


def test_target_mean_on_a_linear_output_with_its_bias_is_accepted(api: Any, alice: Any) -> None:
    body = _regression_setup(alice, STATS)
    response = api.post("/api/v1/runs/", {**body, "config": {"task": "regression", "output_bias": "target_mean"}},
                        format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["config"]["output_bias"] == "target_mean"
