"""Volume-only augmentation (3-D affine, elastic) through the API: a dataset or run whose samples
are not volumes answers 400 naming the field; CT volumes take it. No worker: runs are created
inside a rolled-back transaction, so nothing is ever queued."""
from __future__ import annotations

from typing import Any

import pytest

from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.services import create_graph, create_graph_version, create_project
from tests.pipelines.serving.helpers import CT_CLASSES, ct_document, ct_recipe

pytestmark = pytest.mark.django_db
VOLUME_ONLY = {"rotate_3d_degrees": 15.0, "scale_3d": 0.1, "elastic_3d": 2.0, "elastic_3d_sigma": 5.0}


def _dataset(api: Any, project: Any, kind: str) -> str:
    response = api.post("/api/v1/datasets/", {"project": project.pk, "name": kind, "kind": kind}, format="json")
    assert response.status_code == 201, response.json()
    return f"/api/v1/datasets/{response.json()['id']}/"


@pytest.mark.parametrize("kind", ["image", "segmentation", "table"])
@pytest.mark.parametrize("field", list(VOLUME_ONLY))
def test_volume_only_fields_on_a_2d_dataset_are_a_400_naming_the_field(api: Any, alice: Any, kind: str,
                                                                       field: str) -> None:
    url = _dataset(api, create_project(alice, name="p"), kind)
    response = api.patch(url, {"augmentation": {"flip_horizontal": True, field: VOLUME_ONLY[field]}}, format="json")
    assert response.status_code == 400 and f"augmentation.{field}" in response.json(), response.json()
    assert "volumes" in response.json()[f"augmentation.{field}"][0]
    assert api.get(url).json()["augmentation"] == {}  # nothing saved


def test_ct_datasets_take_volume_fields_and_every_kind_takes_noise(api: Any, alice: Any) -> None:
    project = create_project(alice, name="p")
    for kind in ("ct_nifti", "ct_dicom"):
        url = _dataset(api, project, kind)
        response = api.patch(url, {"augmentation": {**VOLUME_ONLY, "gaussian_noise": 0.05}}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["augmentation"]["elastic_3d"] == 2.0
        assert response.json()["augmentation"]["gaussian_noise"] == 0.05
    image = api.patch(_dataset(api, project, "image"), {"augmentation": {"gaussian_noise": 0.1}}, format="json")
    assert image.status_code == 200 and image.json()["augmentation"]["gaussian_noise"] == 0.1
    bad = api.patch(url, {"augmentation": {"elastic_3d": 50}}, format="json")
    assert bad.status_code == 400 and "augmentation.elastic_3d" in bad.json()


def _ct_setup(alice: Any, mode: str, augmentation: dict[str, Any]) -> dict[str, Any]:
    project = create_project(alice, name=f"ct-{mode}")
    graph = create_graph(alice, project, name="ct")
    graph_version = create_graph_version(alice, graph, document=ct_document(mode))
    dataset = Dataset.objects.create(project=project, name="ct", kind="ct_nifti", created_by=alice,
                                     augmentation=augmentation)
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification", classes=CT_CLASSES,
        sample_count=20, created_by=alice, recipe=ct_recipe(mode))
    return {"graph_version": graph_version.pk, "dataset_version": version.pk}


def _run(api: Any, setup: dict[str, Any], **config: Any) -> Any:
    return api.post("/api/v1/runs/", {**setup, "config": {"epochs": 1, "batch_size": 2, **config}}, format="json")


def test_a_run_on_2d_slices_refuses_volume_augmentation(api: Any, alice: Any) -> None:
    slices = _ct_setup(alice, "2d", {"elastic_3d": 2.0})
    from_dataset = _run(api, slices)
    assert from_dataset.status_code == 400 and "config.augmentation" in from_dataset.json(), from_dataset.json()
    assert "elastic_3d" in from_dataset.json()["config.augmentation"][0]
    from_config = _run(api, slices, augmentation={"rotate_3d_degrees": 10.0})
    assert from_config.status_code == 400 and "config.augmentation.rotate_3d_degrees" in from_config.json()
    plain = _run(api, slices, augmentation={"flip_horizontal": True, "gaussian_noise": 0.1})
    assert plain.status_code == 202, plain.json()


def test_a_run_on_volumes_takes_volume_augmentation(api: Any, alice: Any) -> None:
    volumes = _ct_setup(alice, "3d", {**VOLUME_ONLY, "gaussian_noise": 0.1})
    response = _run(api, volumes)
    assert response.status_code == 202, response.json()
    assert _run(api, volumes, augmentation={"rotate_3d_degrees": 30.0}).status_code == 202
