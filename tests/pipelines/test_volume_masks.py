"""CT volumes with NIfTI label masks (``ct_nifti`` with images/ and masks/): pairing, alignment
through reorientation and resampling, and bad masks skipped or refused by name."""
from __future__ import annotations

import gzip
from pathlib import Path

import nibabel
import numpy as np
import pytest

from pipelines.datasets.cache import open_inputs, open_masks
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.loader import CachedDataset
from pipelines.datasets.report import IngestError
from pipelines.datasets.split_preview import preview_split
from tests.dataset_factories import write_zip


def nifti(array: np.ndarray, affine: np.ndarray | None = None, dtype: type = np.int16) -> bytes:
    """``array`` given as (x, y, z), gzipped NIfTI bytes."""
    image = nibabel.Nifti1Image(np.asarray(array, dtype=dtype), np.diag([1.5, 1.0, 2.0, 1.0]) if affine is None else affine)
    return gzip.compress(image.to_bytes())


def case(index: int, shape: tuple[int, int, int] = (12, 10, 8)) -> tuple[np.ndarray, np.ndarray]:
    """A (x, y, z) volume of air-ish noise with one bright box, and the box's mask (1)."""
    rng = np.random.default_rng(index)
    volume = rng.normal(-800, 20, shape)
    mask = np.zeros(shape, np.uint8)
    x, y, z = 2 + index % 4, 3, 1 + index % 3
    mask[x : x + 4, y : y + 4, z : z + 3] = 1
    volume[mask == 1] = 40
    return volume, mask


def archive(path: Path, cases: int = 6, **members: bytes) -> Path:
    files: dict[str, bytes] = {}
    for i in range(cases):
        volume, mask = case(i)
        files[f"ct/images/case{i}.nii.gz"] = nifti(volume)
        files[f"ct/masks/case{i}.nii.gz"] = nifti(mask, dtype=np.uint8)
    return write_zip(path, {**files, **members})


def test_volumes_and_masks_are_cached_aligned(tmp_path: Path, work: Path) -> None:
    options = {"volume_shape": [8, 10, 12], "window": {"preset": "custom", "center": -380, "width": 880}}
    result = ingest("ct_nifti", archive(tmp_path / "a.zip"), "a.zip", work, options)
    assert result.task == "segmentation" and result.skipped == []
    assert result.classes == ["0", "1"] and result.recipe["target"] == "mask"
    inputs, masks = open_inputs(work / "cache"), open_masks(work / "cache")
    assert inputs.shape == (6, 1, 8, 10, 12) and masks.shape == (6, 8, 10, 12) and masks.dtype == np.uint8
    # Same shape as the volume: nothing resampled, so the mask is the box exactly (z, y, x order).
    volume, mask = case(3)
    assert np.array_equal(masks[3], mask.transpose(2, 1, 0))
    assert (inputs[3, 0][masks[3] == 1] == 40).all() and (inputs[3, 0][masks[3] == 0] < -600).all()
    assert result.samples[3]["meta"]["mask"] == "ct/masks/case3.nii.gz"
    assert result.stats["pixel_counts"]["1"] == 6 * 4 * 4 * 3
    x, y = CachedDataset(work / "cache", "train")[0]
    assert x.shape == (1, 8, 10, 12) and y.shape == (8, 10, 12) and y.dtype.is_floating_point is False


def test_resampling_keeps_labels_whole_and_on_the_image(tmp_path: Path, work: Path) -> None:
    result = ingest("ct_nifti", archive(tmp_path / "a.zip"), "a.zip", work, {"volume_shape": [16, 20, 24]})
    inputs, masks = open_inputs(work / "cache"), open_masks(work / "cache")
    assert set(np.unique(masks)) == {0, 1}  # nearest neighbour: no blended ids
    for i in range(len(result.samples)):
        # Where trilinear puts the box (above halfway from air to its 40 HU) is where the mask is.
        box, label = inputs[i, 0] > -380, masks[i] == 1
        assert (box & label).sum() / (box | label).sum() > 0.85
    assert masks[0].sum() == pytest.approx(8 * 4 * 4 * 3, rel=0.35)  # twice the grid, about 8x the voxels


def test_mask_of_another_shape_is_skipped_by_name(tmp_path: Path, work: Path) -> None:
    bad = nifti(np.zeros((12, 10, 7), np.uint8), dtype=np.uint8)
    path = archive(tmp_path / "a.zip", **{"ct/masks/case0.nii.gz": bad})
    result = ingest("ct_nifti", path, "a.zip", work, {"volume_shape": [8, 10, 12]})
    by_file = {s["file"]: s for s in result.skipped}
    assert by_file["ct/masks/case0.nii.gz"]["code"] == "mask_shape_mismatch"
    assert "12x10x7" in by_file["ct/masks/case0.nii.gz"]["reason"] and "12x10x8" in by_file["ct/masks/case0.nii.gz"]["reason"]
    assert by_file["ct/images/case0.nii.gz"]["code"] == "partner_skipped"
    assert len(result.samples) == 5


def test_mask_elsewhere_in_space_is_skipped(tmp_path: Path, work: Path) -> None:
    shifted = np.diag([1.5, 1.0, 2.0, 1.0])
    shifted[:3, 3] = [30.0, 0.0, 0.0]
    path = archive(tmp_path / "a.zip", **{"ct/masks/case1.nii.gz": nifti(case(1)[1], shifted, np.uint8)})
    result = ingest("ct_nifti", path, "a.zip", work, {"volume_shape": [8, 10, 12]})
    assert {"file": "ct/masks/case1.nii.gz", "code": "mask_geometry_mismatch"}.items() <= result.skipped[0].items()


def test_every_mask_bad_fails_naming_the_file(tmp_path: Path, work: Path) -> None:
    volume, _ = case(0)
    path = write_zip(tmp_path / "a.zip", {"images/p.nii.gz": nifti(volume),
                                          "masks/p.nii.gz": nifti(np.zeros((5, 5, 5), np.uint8), dtype=np.uint8)})
    with pytest.raises(IngestError) as caught:
        ingest("ct_nifti", path, "a.zip", work, {})
    assert caught.value.code == "mask_shape_mismatch" and caught.value.file == "masks/p.nii.gz"
    assert "masks/p.nii.gz" in caught.value.reason


def test_fractional_mask_and_unpaired_files(tmp_path: Path, work: Path) -> None:
    soft = nifti(case(2)[1] * 0.5, dtype=np.float32)
    path = archive(tmp_path / "a.zip", **{"ct/masks/case2.nii.gz": soft, "ct/images/lonely.nii.gz": nifti(case(9)[0])})
    result = ingest("ct_nifti", path, "a.zip", work, {"volume_shape": [8, 10, 12]})
    codes = {s["file"]: s["code"] for s in result.skipped}
    assert codes["ct/masks/case2.nii.gz"] == "invalid_mask_value"
    assert codes["ct/images/lonely.nii.gz"] == "missing_mask"


def test_classes_json_names_the_ids(tmp_path: Path, work: Path) -> None:
    path = archive(tmp_path / "a.zip", **{"classes.json": b'{"background": 0, "lesion": 1}'})
    result = ingest("ct_nifti", path, "a.zip", work, {"volume_shape": [8, 10, 12]})
    assert result.classes == ["background", "lesion"] and result.stats["class_presence"] == {"background": 6, "lesion": 6}


def test_split_preview_counts_volumes_not_their_masks(tmp_path: Path, work: Path) -> None:
    # Six volumes with six masks, a seventh volume without one and a stray mask: six samples.
    source = archive(tmp_path / "a.zip", **{"ct/images/lonely.nii.gz": nifti(case(7)[0]),
                                            "ct/masks/stray.nii.gz": nifti(case(8)[1])})
    options = {"val_fraction": 0.2, "test_fraction": 0.2, "volume_shape": [8, 10, 12]}
    preview = preview_split("ct_nifti", source, options, Limits())
    assert preview["available"] is True and preview["grouped_by"] == "volume"
    assert preview["groups"] == 6 and preview["files_unread"] == 2
    counts = {name: split["samples"] for name, split in preview["splits"].items()}
    assert sum(counts.values()) == 6 and all(counts.values())
    # The ingest makes as many samples per split as the preview said.
    result = ingest("ct_nifti", source, "a.zip", work, options)
    made = {name: sum(1 for s in result.samples if s["split"] == name) for name in counts}
    assert made == counts
