"""A DICOM upload whose series carry DICOM-SEG masks (made with highdicom) becomes a segmentation
version through the ingest task, "start from the data" proposes the 3-D U-Net for it, and no
patient name from the slices or the SEG objects is left under the data folders."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from domain.datasets import proposals, services
from domain.datasets.models import DatasetVersion
from domain.datasets.tasks import ingest_dataset_version
from domain.projects.services import create_project
from tests.pipelines.test_dicom_masks import box, seg_bytes, series_zip, slices_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    settings.DATASETS_ROOT = tmp_path / "datasets"


def test_dicom_series_with_seg_masks_ingest_as_segmentation_and_propose_a_3d_unet(alice: Any,
                                                                                tmp_path: Path) -> None:
    source = series_zip(tmp_path / "ct.zip", 3)
    segs = {f"p{i}/seg.dcm": seg_bytes(slices_of(source, f"p{i}"), box(i) == 1) for i in range(3)}
    with zipfile.ZipFile(source, "a") as archive:
        for name, seg in segs.items():
            archive.writestr(name, seg)
    data = source.read_bytes()
    upload = services.create_upload(alice, length=len(data), filename="ct.zip", metadata={})
    upload = services.append_chunk(alice, upload.pk, offset=0, length=len(data), stream=io.BytesIO(data))
    dataset = services.create_dataset(alice, create_project(alice, name="ct"), name="lesions", kind="ct_dicom")
    version = services.create_version(alice, dataset, options={"volume_shape": [4, 16, 16]}, upload=upload)
    assert ingest_dataset_version(version.pk)["status"] == "succeeded"
    version = DatasetVersion.objects.get(pk=version.pk)
    assert version.task == "segmentation" and version.classes == ["background", "lesion"]
    assert version.recipe["target"] == "mask" and version.sample_count == 3

    built = proposals.build_model(alice, version)
    assert built.template == "unet3d"
    assert "input 'volume' set to 1×4×16×16 (CT volume) (was 1×32×64×64)" in built.notes
    assert built.version.is_valid

    name = str(pydicom.dcmread(get_testdata_file("CT_small.dcm")).PatientName).encode()  # type: ignore[arg-type]
    files = [p for p in Path(tmp_path).rglob("*") if p.is_file() and p.name != "ct.zip"]
    assert files and not [p for p in files if name in p.read_bytes()]
