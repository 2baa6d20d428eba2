"""What the CT dataset page shows, as the ingest records it: per series its pseudonyms, slices,
spacing, thickness, orientation, HU range and kVp, its warnings (pydicom's bundled CT files and
small series built here), and one slice of a volume in each of the three planes."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from pipelines.datasets.ingest import ingest
from pipelines.datasets.options import Window
from pipelines.datasets.preview import render_plane
from pipelines.datasets.series_checks import orientation_name
from tests.ct_series import AXIAL, BUNDLED, CORONAL, write_bundled, write_series

SHAPE = {"volume_shape": [8, 16, 16]}


def bundled_zip(path: Path) -> Path:
    """pydicom's three bundled CT slices, one series each (CT_small in 'normal', the others in
    'pneumonia')."""
    with zipfile.ZipFile(path, "w") as archive:
        for number, name in enumerate(BUNDLED):
            write_bundled(archive, f"scans/{'normal' if number == 0 else 'pneumonia'}/case{number}", name)
    return path


def _by_name(result: object) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in result.stats["series"]}  # type: ignore[attr-defined]


def test_bundled_ct_files_ingest_with_their_metadata_and_warnings(tmp_path: Path, work: Path) -> None:
    result = ingest("ct_dicom", bundled_zip(tmp_path / "bundled.zip"), "bundled.zip", work, SHAPE)
    series = _by_name(result)
    small, j2k, tilted = series["series 1 (normal)"], series["series 2 (pneumonia)"], series["series 3 (pneumonia)"]
    assert [w["code"] for w in small["warnings"]] == ["single_slice"]  # type: ignore[index]
    assert small["slices"] == 1 and small["thickness_mm"] == 5.0 and small["kvp"] == 120.0
    assert small["orientation"] == "axial" and small["spacing_mm"] == [5.0, 0.6615, 0.6615]
    # CT_small's stored pixels, through its RescaleSlope/Intercept, as pydicom reads them.
    raw = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = raw.pixel_array * float(raw.RescaleSlope) + float(raw.RescaleIntercept)
    assert small["hu_range"] == [float(hu.min()), float(hu.max())]
    assert j2k["kvp"] == 140.0 and j2k["original_shape"] == [1, 512, 512]
    # J2K_pixelrep_mismatch is tilted 22° (GantryDetectorTilt, and its rows are not in the axial plane).
    assert tilted["orientation"] == "oblique axial"
    assert [w["code"] for w in tilted["warnings"]] == ["single_slice", "gantry_tilt"]  # type: ignore[index]
    assert "22.0°" in tilted["warnings"][1]["message"]  # type: ignore[index]
    # Pseudonyms only: the study and patient are named by salted hashes, and each series knows its sample.
    assert all(str(s["study"]).startswith("study-") and str(s["patient"]).startswith("patient-") for s in series.values())
    assert [s["sample"] for s in result.stats["series"]] == [0, 1, 2]
    assert sum(result.stats["hu_histogram"]["counts"]) > 0


def test_synthetic_series_warn_where_their_geometry_is_odd(tmp_path: Path, work: Path) -> None:
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        write_series(zf, "scans/normal/regular", [0.0, 2.5, 5.0, 7.5], kvp=100.0)
        write_series(zf, "scans/normal/irregular", [0.0, 1.0, 4.0, 5.0, 6.0])
        write_series(zf, "scans/pneumonia/missing", [0.0, 2.0, 4.0, 10.0, 12.0])
        write_series(zf, "scans/pneumonia/coronal", [0.0, 3.0, 6.0], orientations=[CORONAL] * 3)
        write_series(zf, "scans/pneumonia/mixed", [0.0, 2.0, 4.0], orientations=[AXIAL, AXIAL, CORONAL])
        write_series(zf, "scans/pneumonia/single", [0.0])
    result = ingest("ct_dicom", archive, "odd.zip", work, SHAPE)
    codes = {s["name"]: [w["code"] for w in s["warnings"]] for s in result.stats["series"]}
    assert codes == {
        "series 1 (normal)": ["missing_slices", "irregular_spacing"],  # 0, 1, 4, 5, 6: a 3 mm gap
        "series 2 (normal)": [],
        "series 3 (pneumonia)": ["non_axial"],
        "series 4 (pneumonia)": ["missing_slices", "irregular_spacing"],  # 0, 2, 4, 10, 12
        "series 5 (pneumonia)": ["mixed_orientation"],
        "series 6 (pneumonia)": ["single_slice"],
    }
    series = _by_name(result)
    irregular = series["series 1 (normal)"]
    assert irregular["warnings"][1]["positions_mm"] == [0.0, 1.0, 4.0, 5.0, 6.0]  # type: ignore[index]
    # Resampled to 7 slices 1 mm apart (0 to 6 mm): the stack is 7 mm deep, slice centre to slice centre plus one.
    assert irregular["extent_mm"][0] == pytest.approx(7.0)  # type: ignore[index]
    assert series["series 4 (pneumonia)"]["warnings"][0]["gaps_mm"] == [[4.0, 10.0]]  # type: ignore[index]
    assert series["series 2 (normal)"]["kvp"] == 100.0 and series["series 2 (normal)"]["orientation"] == "axial"
    assert series["series 3 (pneumonia)"]["orientation"] == "coronal"
    assert series["series 5 (pneumonia)"]["orientation"] == "mixed"
    assert series["series 2 (normal)"]["slices"] == 4 and series["series 2 (normal)"]["spacing_mm"][0] == 2.5  # type: ignore[index]


def test_orientation_names() -> None:
    assert orientation_name([AXIAL, AXIAL]) == "axial"
    assert orientation_name([[0.0, 1.0, 0.0, 0.0, 0.0, -1.0]]) == "sagittal"
    assert orientation_name([[1.0, 0.0, 0.0, 0.0, 0.9272, -0.3746]]) == "oblique axial"
    assert orientation_name([None]) == "unknown"


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_planes_cut_the_volume_each_way_with_square_millimetres() -> None:
    # A 4 x 6 x 10 volume whose HU is the slice index (axial), so each plane shows it differently.
    volume = np.broadcast_to(np.arange(4, dtype=np.int16)[:, None, None] * 100, (4, 6, 10)).copy()
    window = Window(preset="custom", center=150, width=300)
    axial = _png(render_plane(volume, "axial", 3, window, voxel_mm=(1.0, 1.0, 1.0), size=100))
    assert axial.shape == (60, 100) and axial.min() == axial.max() == 255
    coronal = _png(render_plane(volume, "coronal", 0, window, voxel_mm=(5.0, 1.0, 1.0), size=100))
    # 4 slices of 5 mm over 10 mm of columns: twice as tall as wide; the last slice at the top.
    assert coronal.shape == (100, 50) and coronal[0, 25] == 255 and coronal[-1, 25] == 0
    sagittal = _png(render_plane(volume, "sagittal", 9, window, voxel_mm=(1.0, 1.0, 1.0), size=60))
    assert sagittal.shape == (40, 60)
    # 100 HU: near the top of the lung window (-1350 to 150 HU), above the brain window (0 to 80 HU).
    lung = _png(render_plane(volume, "axial", 1, Window(preset="lung"), voxel_mm=(1.0, 1.0, 1.0)))
    brain = _png(render_plane(volume, "axial", 1, Window(preset="brain"), voxel_mm=(1.0, 1.0, 1.0)))
    assert 240 < lung[0, 0] < 250 and brain[0, 0] == 255
    with pytest.raises(ValueError, match="plane must be one of"):
        render_plane(volume, "oblique", 0, window, voxel_mm=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="slices 0 to 5"):
        render_plane(volume, "coronal", 6, window, voxel_mm=(1.0, 1.0, 1.0))
