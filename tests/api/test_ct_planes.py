"""GET /dataset-versions/{id}/samples/{n}/plane/: one slice of a CT sample's volume in the axial,
coronal or sagittal plane through a window preset, as a PNG; bad input is a 4xx naming the field.
The version is ingested here, in process, from small CT series built from pydicom's CT_small."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from domain.datasets.models import Dataset, DatasetVersion
from domain.datasets.services import finish_ingest, version_folder
from domain.jobs.models import JobStatus
from domain.projects.services import create_project
from pipelines.datasets.ingest import ingest
from tests.dicom_phi import patients, series_zip

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.DATASETS_ROOT = tmp_path / "datasets"


def _ct_version(user: Any, tmp_path: Path, options: dict[str, Any]) -> DatasetVersion:
    project = create_project(user, name="planes")
    dataset = Dataset.objects.create(project=project, name="chest", kind="ct_dicom", created_by=user)
    version = DatasetVersion.objects.create(dataset=dataset, number=1, status=JobStatus.RUNNING, created_by=user)
    people = patients(2, tag="PL")
    people[0].positions = [0.0, 2.5, 5.0, 7.5, 10.0]
    result = ingest("ct_dicom", series_zip(tmp_path / "ct.zip", people), "ct.zip", version_folder(version), options)
    assert finish_ingest(version, result, {})
    version.refresh_from_db()
    return version


def _png(response: Any) -> np.ndarray:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_each_plane_and_window(api: Any, alice: Any, tmp_path: Path) -> None:
    version = _ct_version(alice, tmp_path, {"volume_shape": [8, 32, 32]})
    url = f"/api/v1/dataset-versions/{version.pk}/samples/0/plane/"
    axial = _png(api.get(url, {"plane": "axial", "slice": 4, "window": "lung", "size": 128}))
    # CT_small is 128 x 128 pixels of 0.66 mm: square.
    assert axial.shape == (128, 128)
    # 5 slices 2.5 mm apart (12.5 mm) under 84.7 mm of rows: a wide, flat coronal picture.
    coronal = _png(api.get(url, {"plane": "coronal", "window": "lung", "size": 128}))
    assert coronal.shape == (19, 128)
    sagittal = _png(api.get(url, {"plane": "sagittal", "slice": 16, "window": "bone", "size": 128}))
    assert sagittal.shape == (19, 128)
    bone = _png(api.get(url, {"plane": "axial", "slice": 4, "window": "bone", "size": 128}))
    brain = _png(api.get(url, {"plane": "axial", "slice": 4, "window": "brain", "size": 128}))
    assert not np.array_equal(axial, bone) and not np.array_equal(bone, brain)
    other = _png(api.get(url, {"plane": "axial", "slice": 0, "window": "lung", "size": 128}))
    assert other.shape == axial.shape
    custom = api.get(url, {"plane": "axial", "window": "custom", "center": 40, "width": 400})
    assert _png(custom).shape == (256, 256)  # the default size


def test_bad_input_is_a_4xx_naming_the_field(api: Any, alice: Any, bob: Any, client_for: Any, tmp_path: Path) -> None:
    version = _ct_version(alice, tmp_path, {"volume_shape": [8, 32, 32]})
    url = f"/api/v1/dataset-versions/{version.pk}/samples/0/plane/"
    assert "plane" in api.get(url).json()
    assert "plane" in api.get(url, {"plane": "oblique"}).json()
    bad_slice = api.get(url, {"plane": "axial", "slice": 8})
    assert bad_slice.status_code == 400 and "has slices 0 to 7" in bad_slice.json()["slice"][0]
    assert api.get(url, {"plane": "coronal", "slice": 32}).status_code == 400
    assert "slice" in api.get(url, {"plane": "axial", "slice": -1}).json()
    assert "size" in api.get(url, {"plane": "axial", "size": 4096}).json()
    assert "window" in api.get(url, {"plane": "axial", "window": "liver"}).json()
    assert "center" in api.get(url, {"plane": "axial", "window": "custom"}).json()
    missing = api.get(f"/api/v1/dataset-versions/{version.pk}/samples/9/plane/", {"plane": "axial"})
    assert missing.status_code == 404 and "no sample 9" in missing.json()["detail"]
    assert client_for(bob).get(url, {"plane": "axial"}).status_code == 404


def test_2d_mode_puts_the_series_together(api: Any, alice: Any, tmp_path: Path) -> None:
    version = _ct_version(alice, tmp_path, {"volume_shape": [6, 16, 16], "mode": "2d"})
    series = version.stats["series"]
    assert [s["sample"] for s in series] == [0, 6]
    url = f"/api/v1/dataset-versions/{version.pk}/samples/8/plane/"  # the second series' third slice
    assert _png(api.get(url, {"plane": "sagittal", "slice": 3, "size": 64})).shape[1] == 64
    assert api.get(url, {"plane": "axial", "slice": 6}).json()["slice"][0].endswith("slices 0 to 5")
