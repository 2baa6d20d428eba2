"""VMB_KEEP_ORIGINALS: after a DICOM ingest the upload is deleted, and with ``deidentified`` the
slices used are kept as de-identified copies beside the cache. The ingest task runs in-process."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.files.storage import default_storage

from domain.datasets import services
from domain.datasets.models import Dataset, DatasetVersion, Upload
from domain.datasets.tasks import ingest_dataset_version
from domain.projects.services import create_project
from pipelines.datasets.ingest import ORIGINALS
from tests.dicom_phi import patients, series_zip

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    settings.DATASETS_ROOT = tmp_path / "datasets"


def _ingest(user: Any, data: bytes, kind: str = "ct_dicom") -> tuple[DatasetVersion, Upload]:
    upload = services.create_upload(user, length=len(data), filename="ct.zip", metadata={})
    upload = services.append_chunk(user, upload.pk, offset=0, length=len(data), stream=io.BytesIO(data))
    dataset = services.create_dataset(user, create_project(user, name="ct"), name="ct", kind=kind)
    options = {"volume_shape": [4, 16, 16]} if kind == "ct_dicom" else {}
    version = services.create_version(user, dataset, options=options, upload=upload)
    assert ingest_dataset_version(version.pk)["status"] == "succeeded"
    return DatasetVersion.objects.get(pk=version.pk), upload


def test_by_default_the_upload_is_deleted_and_nothing_is_kept(alice: Any, tmp_path: Path) -> None:
    version, upload = _ingest(alice, series_zip(tmp_path / "ct.zip", patients(2, tag="D")).read_bytes())
    assert not Upload.objects.filter(pk=upload.pk).exists() and version.upload_id is None
    assert not default_storage.exists(upload.storage_name) and not services.staging_path(upload).exists()
    assert services.quota_used(alice) == 0
    assert version.stats["deidentification"]["originals"] == "deleted"
    assert not (services.version_folder(version) / ORIGINALS).exists()


def test_deidentified_copies_are_kept_when_asked(alice: Any, tmp_path: Path, settings: Any) -> None:
    settings.DATASET_KEEP_ORIGINALS = "deidentified"
    people = patients(2, tag="E")
    version, upload = _ingest(alice, series_zip(tmp_path / "ct.zip", people).read_bytes())
    assert not Upload.objects.filter(pk=upload.pk).exists()
    status = version.stats["deidentification"]
    assert status["originals"] == "deidentified_copies_kept" and status["kept_files"] == 8
    assert "PS3.15" in status["profile"] and "dicognito" in status["profile"]
    kept = sorted((services.version_folder(version) / ORIGINALS).rglob("*.dcm"))
    assert len(kept) == 8
    secrets = [s for p in people for s in p.secrets()]
    assert not [s for f in kept for s in secrets if s in f.read_bytes()]
    assert {str(pydicom.dcmread(f).DeidentificationMethod) for f in kept} == {"DICOGNITO"}


def test_other_kinds_keep_their_upload(alice: Any, tmp_path: Path) -> None:
    from tests.dataset_factories import image_class_zip

    version, upload = _ingest(alice, image_class_zip(tmp_path / "pets.zip").read_bytes(), kind="image")
    assert Upload.objects.filter(pk=upload.pk).exists() and "deidentification" not in version.stats
    assert Dataset.objects.get(pk=version.dataset_id).kind == "image"
