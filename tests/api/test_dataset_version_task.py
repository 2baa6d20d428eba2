"""A dataset's ``latest_version`` (what the Train form offers) carries the version's ``task``, so the
form can ask for the task the server will accept: a segmentation set (the ``shapes`` sample, ingested
here in process) trains for segmentation, a table with a numeric target for regression. The run
estimate, which the form asks after each change, refuses another task naming ``config.task``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.datasets.models import Dataset, DatasetVersion
from domain.datasets.services import finish_ingest, version_folder
from domain.jobs.models import JobStatus
from domain.projects.services import create_project
from pipelines.datasets.ingest import ingest
from pipelines.datasets.samples import write_sample
from tests.dataset_factories import image_class_zip, table_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.DATASETS_ROOT = tmp_path / "datasets"


def _ingested(project: Any, user: Any, name: str, kind: str, source: Path, options: dict[str, Any]) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, name=name, kind=kind, created_by=user)
    version = DatasetVersion.objects.create(dataset=dataset, number=1, status=JobStatus.RUNNING, created_by=user)
    assert finish_ingest(version, ingest(kind, source, source.name, version_folder(version), options), {})
    version.refresh_from_db()
    return version


def test_latest_version_names_its_task(api: Any, alice: Any, tmp_path: Path) -> None:
    project = create_project(alice, name="tasks")
    shapes = _ingested(project, alice, "shapes", "segmentation", write_sample("shapes", tmp_path / "shapes"), {})
    prices = _ingested(project, alice, "prices", "table", table_csv(tmp_path / "prices.csv"), {"target_column": "income"})
    pets = _ingested(project, alice, "pets", "image", image_class_zip(tmp_path / "pets.zip"), {})

    listed = api.get("/api/v1/datasets/", {"project": project.pk})
    assert listed.status_code == 200
    latest = {d["name"]: d["latest_version"] for d in listed.json()["results"]}
    assert {name: v["task"] for name, v in latest.items()} == {
        "shapes": "segmentation", "prices": "regression", "pets": "classification"}
    assert {latest["shapes"]["id"], latest["prices"]["id"], latest["pets"]["id"]} == {shapes.pk, prices.pk, pets.pk}
    one = api.get(f"/api/v1/datasets/{shapes.dataset_id}/").json()["latest_version"]
    assert (one["id"], one["task"]) == (shapes.pk, "segmentation")


def test_the_estimate_takes_the_versions_task_and_refuses_another(api: Any, alice: Any, tmp_path: Path) -> None:
    project = create_project(alice, name="shapes")
    shapes = _ingested(project, alice, "shapes", "segmentation", write_sample("shapes", tmp_path / "shapes"), {})
    built = api.post(f"/api/v1/dataset-versions/{shapes.pk}/build-model/", {}, format="json")
    assert built.status_code == 201, built.json()
    body = {"graph_version": built.json()["version"]["id"], "dataset_version": shapes.pk,
            "config": {"epochs": 1, "batch_size": 8}}

    # The task the form used to send whatever the data (the schema's default): refused on config.task.
    default = api.post("/api/v1/runs/estimate/", body, format="json")
    assert default.status_code == 400
    assert default.json() == {"config.task": ["the dataset is for segmentation, not classification"]}
    # The version's task, as the form now sends it: the loss left unset becomes the task's first.
    task = api.get(f"/api/v1/datasets/{shapes.dataset_id}/").json()["latest_version"]["task"]
    ok = api.post("/api/v1/runs/estimate/", {**body, "config": {**body["config"], "task": task}}, format="json")
    assert ok.status_code == 200, ok.json()
    assert (ok.json()["config"]["task"], ok.json()["config"]["loss"]) == ("segmentation", "cross_entropy")
