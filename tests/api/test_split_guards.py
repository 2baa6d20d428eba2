"""Split guards: a run on a version with an empty validation or test split is refused with a 400
naming the split; a run never ends succeeded without its metrics; an upload's split is shown
before its ingest (``split-preview``). The ingest itself runs in tests/integration."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.services import create_graph, create_graph_version, create_project
from domain.runs.models import TrainingRun
from pipelines.training.engine import FitResult
from tests.dicom_phi import patients, series_zip

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    settings.DATASETS_ROOT = tmp_path / "datasets"


def _version(project: Any, user: Any, counts: dict[str, int], groups: dict[str, int]) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, name="ct", kind="image", created_by=user)
    return DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification", classes=[str(i) for i in range(10)],
        sample_count=sum(counts.values()), created_by=user,
        stats={"split_counts": counts, "split_groups": groups, "grouped_by": "patient"},
        recipe={"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"})


def _body(alice: Any, counts: dict[str, int], groups: dict[str, int]) -> dict[str, Any]:
    project = create_project(alice, name="guards")
    graph = create_graph(alice, project, name="lenet")
    version = create_graph_version(alice, graph, document=get_template("lenet5"))
    return {"graph_version": version.pk, "dataset_version": _version(project, alice, counts, groups).pk,
            "config": {"epochs": 1}}


def test_a_run_on_an_empty_validation_split_is_refused(api: Any, alice: Any) -> None:
    body = _body(alice, {"train": 3, "val": 0, "test": 0}, {"train": 3, "val": 0, "test": 0})
    response = api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 400, response.json()
    [message] = response.json()["dataset_version"]
    assert "validation split" in message and "train 3 · val 0 · test 0" in message
    assert "val_fraction" in message and "3 patients is under 10" in message
    assert not TrainingRun.objects.exists()
    estimate = api.post("/api/v1/runs/estimate/", body, format="json")
    assert estimate.status_code == 400 and "validation split" in estimate.json()["dataset_version"][0]


def test_a_run_on_an_empty_test_split_is_refused(api: Any, alice: Any) -> None:
    body = _body(alice, {"train": 30, "val": 4, "test": 0}, {"train": 30, "val": 4, "test": 0})
    response = api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 400
    [message] = response.json()["dataset_version"]
    assert "test split" in message and "test_fraction" in message and "under 10" not in message


def test_full_splits_are_accepted(api: Any, alice: Any) -> None:
    body = _body(alice, {"train": 30, "val": 4, "test": 4}, {"train": 30, "val": 4, "test": 4})
    assert api.post("/api/v1/runs/", body, format="json").status_code == 202


def test_a_run_without_validation_metrics_fails_instead_of_succeeding(alice: Any) -> None:
    from domain.runs.tasks import _finish

    project = create_project(alice, name="metrics")
    graph = create_graph(alice, project, name="lenet")
    version = create_graph_version(alice, graph, document=get_template("lenet5"))
    dataset_version = _version(project, alice, {"train": 3, "val": 0, "test": 0}, {})
    run = TrainingRun.objects.create(project=project, graph_version=version, dataset_version=dataset_version,
                                     status=JobStatus.RUNNING, config={"epochs": 1}, created_by=alice)
    result = FitResult("succeeded", 1, [{"epoch": 0, "train": {"loss": 0.5}}], {}, {}, {}, 0, None)
    assert _finish(run, result) == JobStatus.FAILED
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and run.error["code"] == "no_metrics"
    assert "validation and test" in run.error["message"] and "val_fraction" in run.error["message"]


def test_split_preview_shows_empty_splits_before_the_ingest(api: Any, alice: Any, tmp_path: Path) -> None:
    project = create_project(alice, name="preview")
    data = series_zip(tmp_path / "ct.zip", patients(3, tag="V")).read_bytes()
    name = base64.b64encode(b"ct.zip").decode()
    created = api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH=str(len(data)), HTTP_UPLOAD_METADATA=f"filename {name}", **TUS)
    assert api.generic("PATCH", created["Location"], data, content_type="application/offset+octet-stream",
                       HTTP_UPLOAD_OFFSET="0", **TUS).status_code == 204
    upload = created.json()["id"]
    dataset = api.post("/api/v1/datasets/", {"project": project.pk, "name": "ct", "kind": "ct_dicom"}, format="json")
    url = f"/api/v1/datasets/{dataset.json()['id']}/split-preview/"
    preview = api.post(url, {"upload": upload, "options": {}}, format="json").json()
    assert preview["groups"] == 3 and preview["grouped_by"] == "patient"
    assert {k: v["groups"] for k, v in preview["splits"].items()} == {"train": 3, "val": 0, "test": 0}
    assert [w["split"] for w in preview["warnings"]] == ["val", "test", ""]
    bad = api.post(url, {"upload": upload, "options": {"val_fraction": 2}}, format="json")
    assert bad.status_code == 400 and "options.val_fraction" in bad.json()
    missing = api.post(url, {"upload": "00000000-0000-0000-0000-000000000000", "options": {}}, format="json")
    assert missing.status_code == 400 and "upload" in missing.json()
