"""DICOM ingest: warnings at the series (one slice, irregular or missing slices, orientation,
gantry tilt), de-identified copies of the originals, and the split preview and advice."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from pipelines.datasets.cache import open_inputs
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.series_checks import regular_grid
from pipelines.datasets.split_preview import preview_split
from tests.dicom_phi import Patient, patients, series_zip

SHAPE = {"volume_shape": [8, 16, 16]}


def _codes(result: object, name: str) -> list[str]:
    [entry] = [s for s in result.stats["series"] if s["name"].startswith(name)]  # type: ignore[attr-defined]
    return [w["code"] for w in entry["warnings"]]


def test_each_series_gets_the_warnings_its_geometry_deserves(tmp_path: Path, work: Path) -> None:
    people = patients(6, tag="W")
    people[1].positions = [0.0]  # one slice
    people[2].positions = [-99.5, 103.0, 104.3, 105.5]  # the series
    people[3].orientation = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]  # sagittal
    people[4].tilt = 12.0
    people[5].positions = [0.0, 2.5, 5.0, 12.5, 15.0]  # two slices missing, otherwise regular
    result = ingest("ct_dicom", series_zip(tmp_path / "ct.zip", people), "ct.zip", work, SHAPE)
    # Series are numbered in file order: normal/case00, case02, case04, then pneumonia/case01, ...
    assert _codes(result, "series 1 ") == []
    assert _codes(result, "series 4 ") == ["single_slice"]
    assert _codes(result, "series 2 ") == ["missing_slices", "irregular_spacing"]
    assert _codes(result, "series 5 ") == ["non_axial"]
    assert _codes(result, "series 3 ") == ["gantry_tilt"]
    assert _codes(result, "series 6 ") == ["missing_slices", "irregular_spacing"]
    irregular = next(s for s in result.stats["series"] if s["name"].startswith("series 2 "))
    shown = irregular["warnings"][1]
    assert shown["positions_mm"] == [-99.5, 103.0, 104.3, 105.5] and "103" in shown["message"]
    assert "replicated into 8" in next(s for s in result.stats["series"]
                                       if s["name"].startswith("series 4 "))["warnings"][0]["message"]
    assert result.stats["series_warnings"] == 7
    # 3 patients per class at the default 0.1 / 0.1: every patient lands in training.
    assert result.stats["split_groups"] == {"train": 6, "val": 0, "test": 0}
    assert [w["code"] for w in result.stats["split_warnings"]] == ["empty_val_split", "empty_test_split",
                                                                   "small_dataset"]


def test_irregular_positions_are_resampled_where_the_slices_really_are() -> None:
    planes = np.stack([np.full((2, 2), v, dtype=np.float32) for v in (0.0, 10.0, 40.0)])
    volume, spacing = regular_grid(planes, [0.0, 1.0, 4.0], 1.0, 100)
    # Values are linear in position here, so each resampled slice is its own z times 10.
    assert spacing == 1.0 and [float(p[0, 0]) for p in volume] == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_originals_are_kept_only_de_identified(tmp_path: Path, work: Path) -> None:
    people = patients(2, tag="K")
    result = ingest("ct_dicom", series_zip(tmp_path / "ct.zip", people), "ct.zip", work, SHAPE,
                    keep_deidentified=True)
    kept = sorted((work / "originals").rglob("*.dcm"))
    assert len(kept) == 8 and result.stats["deidentified_copies"]["files"] == 8
    assert "PS3.15" in result.stats["deidentified_copies"]["profile"]
    blobs = [f.read_bytes() for f in kept] + [f.read_bytes() for f in (work / "cache").iterdir()]
    for secret in [s for p in people for s in p.secrets()]:
        assert not any(secret in blob for blob in blobs), secret
    copies = [pydicom.dcmread(f) for f in kept]
    by_series: dict[str, list[pydicom.Dataset]] = {}
    for ds in copies:
        by_series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    # UIDs remapped consistently: each patient's 4 slices still share one (new) series and study.
    assert sorted(len(v) for v in by_series.values()) == [4, 4]
    assert all(len({str(d.StudyInstanceUID) for d in v}) == 1 for v in by_series.values())
    assert len({str(d.SOPInstanceUID) for d in copies}) == 8
    # Dates shifted into the past, one offset per patient: the two birth dates were 1 year and
    # 1 month apart; the shifted ones are not.
    births = {str(v[0].PatientID): str(v[0].PatientBirthDate) for v in by_series.values()}
    assert all(b < p.birth_date for b, p in zip(sorted(births.values()), people, strict=True))
    original = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    assert np.array_equal(copies[0].pixel_array, original.pixel_array)
    assert "AdditionalPatientHistory" not in copies[0] and not any(e.tag.is_private for e in copies[0])
    assert set(p.parent.parent.name for p in kept) == {"normal", "pneumonia"}
    # The kept copies are a dataset again: they ingest to the same volumes.
    again = ingest("ct_dicom", _zip_folder(work / "originals", tmp_path / "again.zip"), "again.zip",
                   tmp_path / "w2", SHAPE)
    assert again.classes == ["normal", "pneumonia"]
    assert np.allclose(np.sort(open_inputs(tmp_path / "w2" / "cache")[:].ravel()),
                       np.sort(open_inputs(work / "cache")[:].ravel()))


def test_a_failed_ingest_keeps_no_copies(tmp_path: Path, work: Path) -> None:
    from pipelines.datasets.report import IngestError

    archive = tmp_path / "empty.zip"
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("scans/normal/a/x.dcm", b"not dicom")
    with pytest.raises(IngestError):
        ingest("ct_dicom", archive, "empty.zip", work, SHAPE, keep_deidentified=True)
    assert not (work / "originals").exists()


def test_split_preview_counts_patients_before_the_ingest(tmp_path: Path) -> None:
    archive = series_zip(tmp_path / "ct.zip", patients(3, tag="P"))
    preview = preview_split("ct_dicom", archive, {}, Limits())
    assert preview["available"] and preview["groups"] == 3
    assert {k: v["groups"] for k, v in preview["splits"].items()} == {"train": 3, "val": 0, "test": 0}
    codes = [w["code"] for w in preview["warnings"]]
    assert codes == ["empty_val_split", "empty_test_split", "small_dataset"]
    assert "val_fraction" in preview["warnings"][0]["message"]
    wider = preview_split("ct_dicom", archive, {"val_fraction": 0.34, "test_fraction": 0.33,
                                                        "split_strategy": "random"}, Limits())
    assert {k: v["groups"] for k, v in wider["splits"].items()} == {"train": 1, "val": 1, "test": 1}
    assert {k: v["samples"] for k, v in wider["splits"].items()} == {"train": 1, "val": 1, "test": 1}
    assert preview_split("table", archive, {}, Limits())["available"] is False


def test_preview_matches_the_ingest(tmp_path: Path, work: Path) -> None:
    people = patients(12, tag="M")
    archive = series_zip(tmp_path / "ct.zip", people)
    preview = preview_split("ct_dicom", archive, {"seed": 3}, Limits())
    result = ingest("ct_dicom", archive, "ct.zip", work, {**SHAPE, "seed": 3})
    assert {k: v["groups"] for k, v in preview["splits"].items()} == result.stats["split_groups"]
    assert preview["warnings"] == result.stats["split_warnings"] == []


def _zip_folder(folder: Path, path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(folder.rglob("*.dcm")):
            zf.write(file, "copies/" + file.relative_to(folder).as_posix())
    return path


def test_patient_helper_is_distinct() -> None:
    assert len({p.patient_id for p in patients(5)}) == 5 and isinstance(patients(1)[0], Patient)
