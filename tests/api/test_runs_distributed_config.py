"""/api/v1/runs/ and /runs/estimate/: the data-parallel settings are validated like every other
field, a bad one a 400 naming it (no worker here: nothing is queued)."""
from __future__ import annotations

from typing import Any

import pytest

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.services import create_graph, create_graph_version, create_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def body(alice: Any) -> dict[str, Any]:
    project = create_project(alice, name="ddp")
    graph = create_graph(alice, project, name="lenet")
    version = create_graph_version(alice, graph, document=get_template("lenet5"))
    dataset = Dataset.objects.create(project=project, name="digits", kind="image", created_by=alice)
    data = DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification",
        classes=[str(i) for i in range(10)], sample_count=100, created_by=alice,
        recipe={"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"})
    return {"graph_version": version.pk, "dataset_version": data.pk, "config": {"epochs": 1}}


@pytest.mark.parametrize(("distributed", "field"), [
    ({"compression": "zip"}, "config.distributed.compression"),
    ({"compression": "powersgd", "powersgd_rank": 0}, "config.distributed.powersgd_rank"),
    ({"sync_batchnorm": "sometimes"}, "config.distributed.sync_batchnorm"),
    ({"timeout_s": 1}, "config.distributed.timeout_s"),
    ({"overlap": True, "buckets": 3}, "config.distributed.buckets"),
])
@pytest.mark.parametrize("path", ["/api/v1/runs/", "/api/v1/runs/estimate/"])
def test_bad_distributed_setting_is_a_400_naming_it(api: Any, body: dict[str, Any], path: str,
                                                    distributed: dict[str, Any], field: str) -> None:
    response = api.post(path, {**body, "config": {"epochs": 1, "distributed": distributed}}, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


@pytest.mark.parametrize(("device", "message"), [
    ({"kind": "cpu", "nodes": 0}, "greater than or equal to 1"),
    ({"kind": "mps", "nodes": 2}, "mps training runs on one machine"),
])
def test_bad_node_count_is_a_400_naming_it(api: Any, body: dict[str, Any], device: dict[str, Any],
                                           message: str) -> None:
    response = api.post("/api/v1/runs/", {**body, "config": {"epochs": 1, "device": device}}, format="json")
    assert response.status_code == 400 and message in str(response.json().get("config.device.nodes")), response.json()


def test_distributed_defaults_are_filled_in(api: Any, body: dict[str, Any]) -> None:
    response = api.post("/api/v1/runs/estimate/", {**body, "config": {"distributed": {"compression": "bf16"}}},
                        format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["config"]["distributed"] == {
        "backend": None, "overlap": True, "sync_batchnorm": None, "compression": "bf16", "powersgd_rank": 1,
        "timeout_s": 600}
