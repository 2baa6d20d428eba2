"""CT series with label masks (``ct_dicom``): a NIfTI mask beside each series, or a DICOM-SEG made
with highdicom, mapped onto the series' slices; masks that do not fit, or a SEG of another series,
are refused by name."""
from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import highdicom
import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from pipelines.datasets.cache import open_inputs, open_masks
from pipelines.datasets.ingest import ingest
from pipelines.datasets.report import IngestError
from tests.ct_series import write_series

POSITIONS = [0.0, 2.0, 4.0, 6.0]  # mm along the normal: four axial slices of CT_small (128 x 128)
SPACING = 0.661468  # CT_small's PixelSpacing
OPTIONS = {"volume_shape": [4, 128, 128]}  # the series' own grid: nothing is resampled


def box(index: int) -> np.ndarray:
    """(slices, rows, columns) mask with one box of class 1 (and, for odd cases, a class-2 box)."""
    mask = np.zeros((4, 128, 128), np.uint8)
    mask[1:3, 20 + index * 5 : 40 + index * 5, 60:90] = 1
    if index % 2:
        mask[3, 100:110, 10:20] = 2
    return mask


def ras(mask: np.ndarray) -> np.ndarray:
    """A (slices, rows, columns) mask of write_series' axial slices as the cache holds it: on RAS
    axes (columns were stored to the patient's left, rows to posterior: both reversed)."""
    return mask[:, ::-1, ::-1]


def series_affine() -> np.ndarray:
    """Voxel (column, row, slice) to RAS for write_series' axial slices at POSITIONS."""
    return np.diag([-SPACING, -SPACING, 2.0, 1.0])


def nifti_mask(mask: np.ndarray, affine: np.ndarray | None = None) -> bytes:
    image = nibabel.Nifti1Image(np.ascontiguousarray(mask.transpose(2, 1, 0)),
                                series_affine() if affine is None else affine)
    return gzip.compress(image.to_bytes())


def series_zip(path: Path, cases: int, members: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(cases):
            write_series(archive, f"p{i}", POSITIONS, shift=i + 1)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def slices_of(path: Path, folder: str) -> list[pydicom.Dataset]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith(f"{folder}/slice"))
        return [pydicom.dcmread(io.BytesIO(archive.read(n))) for n in names]


def seg_bytes(sources: list[pydicom.Dataset], mask: np.ndarray, labels: tuple[str, ...] = ("lesion",)) -> bytes:
    """A real DICOM-SEG (highdicom) of ``mask`` (slices, rows, columns) ids 1.. on ``sources``."""
    descriptions = [highdicom.seg.SegmentDescription(
        segment_number=n, segment_label=label, segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion, algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL)
        for n, label in enumerate(labels, 1)]
    seg = highdicom.seg.Segmentation(
        source_images=sources, pixel_array=mask, segmentation_type="BINARY", segment_descriptions=descriptions,
        series_instance_uid=highdicom.UID(), series_number=90, sop_instance_uid=highdicom.UID(), instance_number=1,
        manufacturer="vmb tests", manufacturer_model_name="tests", software_versions="1", device_serial_number="1")
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


def skipped(result: Any) -> dict[str, str]:
    return {s["file"]: s["code"] for s in result.skipped}


def test_nifti_masks_beside_series_are_cached_on_their_slices(tmp_path: Path, work: Path) -> None:
    flipped = np.diag([SPACING, -SPACING, 2.0, 1.0])  # x stored left to right: reoriented on read
    flipped[0, 3] = -SPACING * 127
    members = {f"p{i}/mask.nii.gz": nifti_mask(box(i)) for i in range(3)}
    members["p3/mask.nii.gz"] = nifti_mask(box(3)[:, :, ::-1], flipped)
    result = ingest("ct_dicom", series_zip(tmp_path / "ct.zip", 4, members), "ct.zip", work,
                    {**OPTIONS, "val_fraction": 0.25, "test_fraction": 0.25})
    assert result.task == "segmentation" and result.skipped == []
    assert result.classes == ["0", "1", "2"] and result.recipe["target"] == "mask"
    inputs, masks = open_inputs(work / "cache"), open_masks(work / "cache")
    assert inputs.shape == (4, 1, 4, 128, 128) and masks.shape == (4, 4, 128, 128)
    by_series = {s["meta"]["series"]: i for i, s in enumerate(result.samples)}
    assert len(by_series) == 4
    got = sorted(int(masks[i].sum()) for i in range(4))
    assert got == sorted(int(box(i).sum()) for i in range(4))
    for i in range(4):  # each mask is one of the boxes exactly, the flipped one included
        assert any(np.array_equal(masks[i], ras(box(j))) for j in range(4))
    assert result.stats["class_presence"] == {"0": 4, "1": 4, "2": 2}


def test_nifti_mask_elsewhere_or_missing_skips_its_series_by_name(tmp_path: Path, work: Path) -> None:
    moved = series_affine()
    moved[2, 3] = 10.0  # ten millimetres up: it would not overlay the slices
    members = {"p0/mask.nii.gz": nifti_mask(box(0)), "p1/mask.nii.gz": nifti_mask(box(1), moved),
               "p2/mask.nii.gz": nifti_mask(box(2)[:3])}
    result = ingest("ct_dicom", series_zip(tmp_path / "ct.zip", 4, members), "ct.zip", work, OPTIONS)
    codes_by_file = skipped(result)
    assert codes_by_file == {"p1": "mask_geometry_mismatch", "p2": "mask_shape_mismatch", "p3": "missing_mask"}
    reasons = {s["file"]: s["reason"] for s in result.skipped}
    assert reasons["p2"].startswith("p2/mask.nii.gz: the mask is 128x128x3 voxels but its series is 128x128x4")
    assert len(result.samples) == 1


def test_dicom_seg_made_with_highdicom_maps_onto_its_series(tmp_path: Path, work: Path) -> None:
    source = series_zip(tmp_path / "plain.zip", 3)
    members = {f"p{i}/seg.dcm": seg_bytes(slices_of(source, f"p{i}"), box(i) == 1) for i in range(3)}
    with zipfile.ZipFile(source, "a") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = ingest("ct_dicom", source, "ct.zip", work, OPTIONS)
    assert result.task == "segmentation" and result.skipped == []
    assert result.classes == ["background", "lesion"]
    masks = open_masks(work / "cache")
    for i, sample in enumerate(result.samples):
        assert sample["label"] == "background+lesion" and sample["name"].endswith("(background+lesion)")
        assert any(np.array_equal(masks[i], ras(box(j) == 1).astype(np.uint8)) for j in range(3))


def test_dicom_seg_of_another_series_is_refused_naming_the_file(tmp_path: Path, work: Path) -> None:
    elsewhere = series_zip(tmp_path / "elsewhere.zip", 1)
    foreign = seg_bytes(slices_of(elsewhere, "p0"), box(0) == 1)
    source = series_zip(tmp_path / "ct.zip", 2, {"p0/seg.dcm": foreign})
    with pytest.raises(IngestError) as caught:
        ingest("ct_dicom", source, "ct.zip", work, OPTIONS)
    assert caught.value.code == "seg_other_series" and caught.value.file == "p0/seg.dcm"
    assert caught.value.reason.startswith("no series with a usable mask was found: p0/seg.dcm: this DICOM-SEG "
                                          "references another series than those in the upload (not the series in "
                                          "p0/ beside it")
