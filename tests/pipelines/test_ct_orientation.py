"""One layout for every CT volume: a DICOM series is cached and served on the same RAS axes as the
same patient in a NIfTI file, its lesion mask with it; a model whose recipe predates the recorded
layout (trained on DICOM series as stored) still gets its input as stored."""
from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pydicom
import pytest

from pipelines.datasets.cache import open_inputs, open_masks
from pipelines.datasets.ingest import ingest
from pipelines.datasets.synthetic_ct import MASK_NAME, write_patient
from pipelines.datasets.synthetic_ct_anatomy import render
from pipelines.datasets.volume import resample
from pipelines.export.package import make_card
from pipelines.serving.preprocess import prepare, sniff, to_model_input, volume_options
from tests.ct_series import CORONAL, write_series
from tests.pipelines.serving import helpers


@pytest.fixture(scope="module")
def patient(tmp_path_factory: Any) -> Any:
    return write_patient(tmp_path_factory.mktemp("ct"), 1, slices=12, size=24, seed=5)


def _series_zip(files: list[Path], root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in files:
            archive.write(f, f.relative_to(root).as_posix())
    return buffer.getvalue()


def _slices(files: list[Path]) -> tuple[np.ndarray, list[Any]]:
    """The series' HU slices in file order of the generator (slice 0 at the top), read by pydicom."""
    headers = sorted((pydicom.dcmread(f) for f in files), key=lambda ds: int(ds.InstanceNumber))
    hu = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in headers])
    return hu.astype(np.float32), headers


def _as_nifti(hu: np.ndarray, headers: list[pydicom.Dataset]) -> bytes:
    """The series as a NIfTI converter writes it: voxel (column, row, file slice) with the affine of
    its DICOM geometry in RAS (not on RAS axes: the reader turns it)."""
    first, second = headers[0], headers[1]
    dr, dc = (float(v) for v in first.PixelSpacing)
    corner = np.array([float(v) for v in first.ImagePositionPatient])
    step = np.array([float(v) for v in second.ImagePositionPatient]) - corner
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = [dc, 0, 0], [0, dr, 0], step, corner
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return gzip.compress(nibabel.Nifti1Image(np.ascontiguousarray(hu.transpose(2, 1, 0)), affine).to_bytes())


def _card(recipe: dict[str, Any]) -> dict[str, Any]:
    return make_card(helpers.ct_document("3d", 16, 8), name="m", classes=helpers.CT_CLASSES, preprocessing=recipe)


def test_a_dicom_series_and_the_same_patient_as_nifti_give_the_same_model_input(patient: Any, tmp_path: Path) -> None:
    root = patient.folder.parent.parent
    series = _series_zip(patient.files, root)
    archive = tmp_path / "ct.zip"
    archive.write_bytes(series)
    recipe = ingest("ct_dicom", archive, "ct.zip", tmp_path / "work", {"volume_shape": [8, 16, 16]}).recipe
    assert recipe["orientation"] == "RAS"
    hu, headers = _slices(patient.files)
    from_dicom = prepare(_card(recipe), sniff(series, "file", "application/zip"))
    from_nifti = prepare(_card(recipe), sniff(_as_nifti(hu, headers), "file"))
    assert from_dicom.shape == from_nifti.shape == (1, 1, 8, 16, 16)
    assert np.abs(from_dicom - from_nifti).max() < 1e-5
    # First principles: bottom to top (the generator writes feet first), rows to anterior and
    # columns to the patient's right (axial slices store them to posterior and to the left).
    spacing = (float(headers[0].SliceThickness), *(float(v) for v in headers[0].PixelSpacing))
    options = volume_options(recipe)
    ras = to_model_input(resample(hu[::-1, ::-1, ::-1], spacing, options), options)[None, None]  # type: ignore[arg-type]
    assert np.abs(from_dicom - ras).max() < 1e-5


def test_a_recipe_without_orientation_keeps_the_dicom_series_as_stored(patient: Any, tmp_path: Path) -> None:
    """A model trained on DICOM series before the layout was recorded: the series as it was read
    then (slices bottom to top, rows and columns as stored), and a NIfTI of the patient turned to it."""
    legacy = {**helpers.ct_recipe("3d"), "kind": "ct_dicom"}
    assert "orientation" not in legacy
    root = patient.folder.parent.parent
    hu, headers = _slices(patient.files)
    from_dicom = prepare(_card(legacy), sniff(_series_zip(patient.files, root), "file", "application/zip"))
    from_nifti = prepare(_card(legacy), sniff(_as_nifti(hu, headers), "file"))
    spacing = (float(headers[0].SliceThickness), *(float(v) for v in headers[0].PixelSpacing))
    options = volume_options(legacy)
    stored = to_model_input(resample(hu[::-1], spacing, options), options)[None, None]  # type: ignore[arg-type]
    assert np.abs(from_dicom - stored).max() < 1e-5
    assert np.abs(from_nifti - stored).max() < 1e-5
    ras = prepare(_card({**legacy, "orientation": "RAS"}), sniff(_as_nifti(hu, headers), "file"))
    assert np.abs(ras - stored).mean() > 0.02  # the two layouts really differ for this patient
    # A NIfTI-trained model's recipe without it stays on RAS, as the NIfTI reader always was.
    nifti_model = prepare(_card({**legacy, "kind": "ct_nifti"}), sniff(_as_nifti(hu, headers), "file"))
    assert np.abs(nifti_model - ras).max() == 0


def test_a_lesion_mask_beside_a_dicom_series_overlaps_its_lesion_after_ingest(tmp_path: Path) -> None:
    patient = write_patient(tmp_path / "ct", 1, slices=24, size=64, seed=1)  # a pneumonia patient, 121 lesion voxels
    volume, lesion = render(patient.patient)  # the truth, slice 0 at the top, as stored
    assert lesion.sum() > 100
    archive = tmp_path / "ct.zip"
    archive.write_bytes(_series_zip([*patient.files, patient.folder / MASK_NAME], tmp_path / "ct"))
    result = ingest("ct_dicom", archive, "ct.zip", tmp_path / "work", {"volume_shape": list(volume.shape)})
    assert result.task == "segmentation" and result.skipped == []
    image = open_inputs(tmp_path / "work" / "cache")[0, 0].astype(np.float32)
    mask = open_masks(tmp_path / "work" / "cache")[0]
    assert np.array_equal(mask, lesion[::-1, ::-1, ::-1])  # RAS: bottom to top, to anterior, to the right
    truth = volume[::-1, ::-1, ::-1]
    body = truth > -500  # outside it some storages pad with -3024 HU (clipped to -1024 in the cache)
    assert np.abs(image - truth)[body].max() <= 1.0  # storage and cache rounding only
    lung = (image < -700) & (mask == 0)
    assert image[mask == 1].mean() > image[lung].mean() + 300  # the mask sits on the dense lesion


def test_a_coronal_series_is_turned_onto_ras_axes(tmp_path: Path) -> None:
    """pydicom's CT_small restacked as coronal slices (rows run to the feet, slices to posterior):
    cached with superior on the first axis reversed rows, anterior on the second, right on the third."""
    archive = tmp_path / "ct.zip"
    with zipfile.ZipFile(archive, "w") as out:
        write_series(out, "p0", [0.0, 2.0, 4.0], [CORONAL] * 3, shift=3)
    result = ingest("ct_dicom", archive, "ct.zip", tmp_path / "work", {"volume_shape": [128, 3, 128]})
    cached = open_inputs(tmp_path / "work" / "cache")[0, 0]
    with zipfile.ZipFile(archive) as src:
        stored = [pydicom.dcmread(io.BytesIO(src.read(f"p0/slice{i:02d}.dcm"))) for i in range(3)]
    hu = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in stored])
    # (slices to posterior, rows to inferior, columns to left) -> (superior, anterior, right)
    expected = hu.transpose(1, 0, 2)[::-1, ::-1, ::-1]
    assert cached.shape == (128, 3, 128)
    assert np.abs(cached - np.clip(expected, -1024, 3071).round()).max() == 0
    assert result.recipe["orientation"] == "RAS"


def test_previews_show_a_ras_cache_as_radiologists_look_at_a_dicom_slice(patient: Any, tmp_path: Path) -> None:
    # The dataset page draws a RAS cache (rows to anterior, columns to the patient's right) flipped
    # in both in-plane axes: an axial slice shows anterior at the top and the patient's right on the
    # left, as the DICOM slice itself is stored and as a DICOM series cached before RAS was shown.
    from PIL import Image

    from pipelines.datasets.options import Window
    from pipelines.datasets.preview import radiological, render_plane, render_png
    from pipelines.datasets.volume import apply_window

    root = patient.folder.parent.parent
    archive = tmp_path / "ct.zip"
    archive.write_bytes(_series_zip(patient.files, root))
    result = ingest("ct_dicom", archive, "ct.zip", tmp_path / "work", {"volume_shape": [12, 24, 24]})
    volume = np.asarray(open_inputs(tmp_path / "work" / "cache")[0, 0], dtype=np.float32)
    hu, _ = _slices(patient.files)
    stored = hu[::-1]  # bottom to top, rows and columns as each file stores them
    middle = volume.shape[0] // 2
    window = Window(preset="lung")

    def pixels(png: bytes) -> np.ndarray:
        image = Image.open(io.BytesIO(png)).convert("L")
        return np.asarray(image.resize((24, 24), Image.Resampling.NEAREST), dtype=np.float32)

    expected = np.clip(apply_window(stored[middle], window), 0, 1) * 255
    shown = {"sample": pixels(render_png(open_inputs(tmp_path / "work" / "cache")[0], result.recipe, window=window, slice_index=middle)),
             "plane": pixels(render_plane(radiological(volume, result.recipe), "axial", middle, window,
                                          voxel_mm=(1.0, 1.0, 1.0), size=24))}
    for name, picture in shown.items():
        as_stored = np.abs(picture - expected).mean()
        mirrored = np.abs(picture - expected[::-1, ::-1]).mean()
        assert mirrored > 2 * as_stored, (name, as_stored, mirrored)  # resampled: near, not equal
    # A cache from before the RAS layout (a recipe without it) is shown as it is stored.
    old = {k: v for k, v in result.recipe.items() if k != "orientation"}
    assert radiological(volume, old) is volume
