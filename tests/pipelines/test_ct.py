"""CT from DICOM and NIfTI: series, ordering, HU, windows, resampling, de-identification, and
headers that lie."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from pipelines.datasets.cache import load_small, open_inputs
from pipelines.datasets.dicom import read_header, read_slice
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.nifti import read_volume
from pipelines.datasets.options import Window
from pipelines.datasets.preview import render_png
from pipelines.datasets.report import BadFile
from pipelines.datasets.synthetic_ct import write_series
from pipelines.datasets.volume import apply_window
from tests.dataset_factories import dicom_folder_zip, nifti_absurd_header, nifti_bytes, nifti_zip, write_zip

CT_OPTIONS = {"volume_shape": [4, 8, 8], "val_fraction": 0.25, "test_fraction": 0.25}


def test_pydicom_test_file_is_converted_to_hounsfield_units(tmp_path: Path) -> None:
    path = Path(get_testdata_file("CT_small.dcm"))
    header = read_header(path, "CT_small.dcm", Limits())
    hu = read_slice(header, path)
    raw = pydicom.dcmread(path).pixel_array
    assert (header.slope, header.intercept) == (1.0, -1024.0)
    assert hu.shape == (128, 128) and np.allclose(hu, raw.astype(np.float32) - 1024.0)


def test_slices_are_ordered_by_position_not_by_file_name(tmp_path: Path, work: Path) -> None:
    rng = np.random.default_rng(1)
    volume = np.stack([np.full((8, 8), 100.0 * i) for i in range(5)])  # slice i is 100*i HU
    write_series(tmp_path / "src" / "a" / "case", volume, patient_id="P1", patient_name="X^Y",
                 spacing=(2.0, 1.0, 1.0), rng=rng)
    write_series(tmp_path / "src" / "b" / "case", volume, patient_id="P2", patient_name="X^Z",
                 spacing=(2.0, 1.0, 1.0), rng=rng)
    archive = tmp_path / "ct.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (tmp_path / "src").rglob("*.dcm"):
            zf.write(f, f.relative_to(tmp_path / "src").as_posix())
    result = ingest("ct_dicom", archive, "ct.zip", work, {"volume_shape": [5, 8, 8]})
    cached = np.asarray(open_inputs(work / "cache")[0, 0], dtype=np.float32)
    # Positions decrease with i (feet first), so sorted by position the order is reversed.
    assert [round(float(p.mean())) for p in cached] == [400, 300, 200, 100, 0]
    assert result.samples[0]["meta"]["spacing_mm"] == [2.0, 1.0, 1.0]


def test_dicom_class_folders_end_to_end_and_deidentified(tmp_path: Path, work: Path) -> None:
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=4, slices=6, size=16)
    result = ingest("ct_dicom", archive, "ct.zip", work, CT_OPTIONS)
    assert result.classes == ["normal", "pneumonia"] and result.skipped == []
    assert open_inputs(work / "cache").shape == (4, 1, 4, 8, 8)
    assert result.recipe["window"]["preset"] == "lung" and result.recipe["unit"] == "HU"
    # Nothing identifying survives: not in the result, not in any file of the cache.
    text = repr(result.samples) + repr(result.stats) + repr(result.recipe)
    blobs = [text.encode()] + [f.read_bytes() for f in (work / "cache").iterdir()]
    originals = [pydicom.dcmread(f, stop_before_pixels=True) for f in list((tmp_path / "src").rglob("*.dcm"))[:8]]
    for ds in originals:
        for secret in (str(ds.PatientName), ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID, "case000"):
            assert not any(secret.encode() in blob for blob in blobs), secret
    assert not (work / "raw").exists()


def test_dicom_2d_mode_groups_slices_by_patient(tmp_path: Path, work: Path) -> None:
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=6, slices=4, size=16)
    result = ingest("ct_dicom", archive, "ct.zip", work, {**CT_OPTIONS, "mode": "2d"})
    assert open_inputs(work / "cache").shape == (24, 1, 8, 8)
    splits_of: dict[str, set[str]] = {}
    for sample in result.samples:
        splits_of.setdefault(sample["group"], set()).add(sample["split"])
    assert len(splits_of) == 6 and all(len(s) == 1 for s in splits_of.values())


def test_labels_csv_keyed_by_patient(tmp_path: Path, work: Path) -> None:
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=4, slices=3, size=16)
    ids = [str(pydicom.dcmread(next((tmp_path / "src").glob(f"*/case{n:03d}/*.dcm"))).PatientID) for n in range(4)]
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("labels.csv", f"patient_id,label\n{ids[0]},low\n{ids[1]},high\n{ids[2]},low\n")
    result = ingest("ct_dicom", archive, "ct.zip", work, CT_OPTIONS)
    assert sorted(s["label"] for s in result.samples) == ["high", "low", "low"]
    assert [s["code"] for s in result.skipped] == ["missing_label"]
    assert ids[3] not in repr(result.skipped)


def test_bad_dicom_files_are_skipped_by_name(tmp_path: Path, work: Path) -> None:
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=2, slices=3, size=16)
    good = next((tmp_path / "src").rglob("*.dcm"))
    absurd = pydicom.dcmread(good)
    absurd.Rows, absurd.Columns = 60000, 60000
    absurd.save_as(tmp_path / "absurd.dcm")
    truncated = good.read_bytes()[:-200]
    with zipfile.ZipFile(archive, "a") as zf:
        zf.write(tmp_path / "absurd.dcm", "normal/case000/absurd.dcm")
        zf.writestr("normal/case000/truncated.dcm", truncated)
        zf.writestr("normal/case000/notdicom.dcm", b"hello")
        zf.writestr("normal/case000/small_text.txt", b"x" * 10)
    result = ingest("ct_dicom", archive, "ct.zip", work, CT_OPTIONS, Limits(max_image_pixels=1_000_000))
    skipped = {s["file"]: s["code"] for s in result.skipped}
    assert skipped["normal/case000/absurd.dcm"] == "image_too_large"
    assert skipped["normal/case000/truncated.dcm"] in ("truncated", "duplicate_slice")
    assert skipped["normal/case000/notdicom.dcm"] == "not_dicom"
    assert skipped["normal/case000/small_text.txt"] == "not_dicom"
    assert len(result.samples) == 2


def test_absurd_dicom_header_is_refused_before_pixels(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Rows = ds.Columns = 65535
    ds.save_as(tmp_path / "x.dcm")
    with pytest.raises(BadFile) as caught:
        read_header(tmp_path / "x.dcm", "x.dcm", Limits())
    assert caught.value.code == "image_too_large"


def test_nifti_with_labels_csv(tmp_path: Path, work: Path) -> None:
    result = ingest("ct_nifti", nifti_zip(tmp_path / "n.zip"), "n.zip", work,
                    {**CT_OPTIONS, "volume_shape": [3, 4, 4]})
    assert result.classes == ["healthy", "sick"] and len(result.samples) == 6
    assert open_inputs(work / "cache").shape == (6, 1, 3, 4, 4)
    groups: dict[str, set[str]] = {}
    for sample in result.samples:
        groups.setdefault(sample["group"], set()).add(sample["split"])
    assert len(groups) == 3 and all(len(s) == 1 for s in groups.values())
    assert load_small(work / "cache", "targets").tolist().count(0) == 3


def test_nifti_spacing_and_axes(tmp_path: Path) -> None:
    path = tmp_path / "v.nii.gz"
    path.write_bytes(nifti_bytes(shape=(8, 7, 6)))
    volume, spacing = read_volume(path, Limits())
    assert volume.shape == (6, 7, 8) and spacing == (3.0, 1.5, 1.5)


def test_bad_nifti_files_are_skipped(tmp_path: Path, work: Path) -> None:
    good = nifti_bytes()
    archive = write_zip(tmp_path / "n.zip", {
        "ok1.nii.gz": good, "ok2.nii.gz": good,
        "absurd.nii": nifti_absurd_header(),
        "truncated.nii.gz": good[: len(good) // 2],
        "truncated.nii": nifti_bytes(gz=False)[:500],
        "garbage.nii": b"garbage" * 100,
        "labels.csv": b"file,label\nok1.nii.gz,a\nok2.nii.gz,b\nabsurd.nii,a\ntruncated.nii.gz,b\n"
                      b"truncated.nii,a\ngarbage.nii,b\n",
    })
    result = ingest("ct_nifti", archive, "n.zip", work, {**CT_OPTIONS, "volume_shape": [2, 2, 2]},
                    Limits(max_volume_voxels=1_000_000))
    skipped = {s["file"]: s["code"] for s in result.skipped}
    assert skipped.pop("truncated.nii.gz") in ("corrupt", "not_nifti")
    assert skipped == {"absurd.nii": "volume_too_large", "truncated.nii": "truncated", "garbage.nii": "not_nifti"}
    assert len(result.samples) == 2


def test_window_presets_and_custom() -> None:
    hu = np.array([-1000.0, -600.0, 0.0, 1000.0])
    assert np.allclose(apply_window(hu, Window(preset="lung")), [350 / 1500, 0.5, 0.9, 1.0])
    assert np.allclose(apply_window(hu, Window(preset="custom", center=0, width=2000)), [0.0, 0.2, 0.5, 1.0])
    assert Window(preset="brain").bounds() == (0.0, 80.0)
    with pytest.raises(ValueError):
        Window(preset="custom", center=10)


def test_ct_preview_renders_the_chosen_window_and_slice(tmp_path: Path, work: Path) -> None:
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=2, slices=4, size=16)
    result = ingest("ct_dicom", archive, "ct.zip", work, CT_OPTIONS)
    sample = open_inputs(work / "cache")[0]
    lung = render_png(sample, result.recipe, slice_index=1)
    bone = render_png(sample, result.recipe, window=Window(preset="bone"), slice_index=1)
    assert lung.startswith(b"\x89PNG") and lung != bone
