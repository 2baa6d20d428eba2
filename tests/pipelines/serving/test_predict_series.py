"""predict with a zip of one DICOM series: the same numbers as the ingest's cached volume of that
series (the ingest run for real on the same zip, its recipe on the model's card), and zips that
are not one whole series refused with a 4xx naming the file."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.datasets.ingest import ingest
from pipelines.datasets.synthetic_ct import write_patient
from pipelines.export.package import save_package
from pipelines.serving.predict import predict, softmax
from pipelines.serving.preprocess import prepare, sniff, to_model_input, volume_options
from pipelines.serving.protocol import ProtocolError
from pipelines.serving.runtime import load_model
from tests import ct_series
from tests.pipelines.serving import helpers

SIDE, DEPTH = 16, 8


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def series(tmp_path_factory: Any) -> dict[str, bytes]:
    """The slices of two synthetic patients (other storages and thicknesses), by path in the zip."""
    folder = tmp_path_factory.mktemp("series")
    files: dict[str, bytes] = {}
    for number in (0, 1):
        written = write_patient(folder, number, slices=12, size=24, seed=5)
        files.update({f.relative_to(folder).as_posix(): f.read_bytes() for f in written.files})
    return files


def _one(series: dict[str, bytes], case: int = 0) -> dict[str, bytes]:
    return {name: data for name, data in series.items() if f"case{case:03d}/" in name}


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_a_series_zip_predicts_what_the_ingested_volume_does(tmp_path: Path, series: dict[str, bytes],
                                                             mode: str) -> None:
    archive = tmp_path / "ct.zip"
    archive.write_bytes(_zip(series))
    result = ingest("ct_dicom", archive, "ct.zip", tmp_path / "work", {"volume_shape": [DEPTH, SIDE, SIDE], "mode": mode})
    recipe = result.recipe
    model = load_model(save_package(helpers.package(helpers.ct_document(mode, SIDE, DEPTH), recipe, helpers.CT_CLASSES),
                                    tmp_path / "model"))
    cached = np.load(tmp_path / "work" / "cache" / "inputs.npy")
    for case in (0, 1):
        mine = [i for i, s in enumerate(result.samples) if s["label"] == ("normal", "pneumonia")[case]]
        stored = cached[mine]  # whole HU in int16, as training reads it, windowed by the loader
        expected = to_model_input(stored.astype(np.float32), volume_options(recipe))
        upload = sniff(_zip(_one(series, case)), "file", "application/zip", f"case{case}.zip")
        assert upload.kind == "dicom_zip"
        batch = prepare(model.card, upload)
        assert batch.shape == expected.shape and np.abs(batch - expected).max() == 0
        answer = predict(model, upload)
        probabilities = softmax(np.asarray(model.infer([expected])[0], dtype=np.float64)).mean(axis=0)
        assert answer["samples"] == len(expected)
        for index, name in enumerate(helpers.CT_CLASSES):
            assert abs(answer["probabilities"][name] - probabilities[index]) < 1e-5


@pytest.fixture(scope="module")
def volume_model(tmp_path_factory: Any) -> Any:
    folder = tmp_path_factory.mktemp("model")
    return load_model(save_package(helpers.package(helpers.ct_document("3d"), helpers.ct_recipe("3d"),
                                                   helpers.CT_CLASSES), folder))


def _refusal(model: Any, data: bytes, name: str = "scan.zip") -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        prepare(model.card, sniff(data, "file", "", name))
    assert caught.value.field == "file" and f"'{name}'" in caught.value.message, caught.value.message
    return caught.value


def test_several_series_are_refused_by_count_and_folder(volume_model: Any, series: dict[str, bytes]) -> None:
    refused = _refusal(volume_model, _zip(series))
    assert (refused.status, refused.code) == (400, "several_series")
    assert "2 series" in refused.message and "'normal/case000/'" in refused.message
    assert "Archibald" not in refused.message and "^" not in refused.message  # no tag value, no patient name


@pytest.mark.parametrize(("files", "code"), [
    ({"readme.txt": b"no slices here"}, "no_dicom"),
    ({"a/one.dcm": helpers.ct_small()}, "series_too_short"),
])
def test_a_zip_that_is_no_volume_is_refused(volume_model: Any, files: dict[str, bytes], code: str) -> None:
    refused = _refusal(volume_model, _zip(files))
    assert (refused.status, refused.code) == (400, code)


def test_a_broken_slice_or_a_slice_of_another_size_refuses_the_series(volume_model: Any,
                                                                     series: dict[str, bytes]) -> None:
    one = _one(series)
    first = sorted(one)[0]
    refused = _refusal(volume_model, _zip({**one, first: one[first][:-100]}))
    assert (refused.status, refused.code) == (400, "corrupt_pixels") and first in refused.message
    import pydicom

    smaller = pydicom.dcmread(io.BytesIO(one[first]))
    smaller.Rows = smaller.Columns = 8
    smaller.PixelData = smaller.pixel_array[:8, :8].tobytes()
    smaller.ImagePositionPatient = [0.0, 0.0, 5000.0]
    out = io.BytesIO()
    smaller.save_as(out)
    refused = _refusal(volume_model, _zip({**one, "normal/case000/small.dcm": out.getvalue()}))
    assert (refused.status, refused.code) == (400, "inconsistent_slice") and "small.dcm" in refused.message


def test_a_zip_bomb_and_a_broken_zip_are_refused(volume_model: Any) -> None:
    bomb = _zip({"a/zeros.dcm": bytes(24 * 1024 * 1024)})  # ~24 KiB that inflates 1000:1
    refused = _refusal(volume_model, bomb)
    assert (refused.status, refused.code) == (413, "compression_ratio")
    refused = _refusal(volume_model, b"PK\x03\x04" + os.urandom(200))
    assert (refused.status, refused.code) == (400, "bad_archive")


def test_irregular_slices_are_resampled_with_the_ingest_warning(volume_model: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        ct_series.write_series(archive, "x", [0.0, 2.0, 4.0, 9.0, 10.0], shift=3)
    answer = predict(volume_model, sniff(buffer.getvalue(), "file", "", "x.zip"))
    assert {w["code"] for w in answer["warnings"]} >= {"irregular_spacing"}
    assert set(answer["probabilities"]) == set(helpers.CT_CLASSES)


def test_nothing_of_the_upload_is_left_behind(volume_model: Any, series: dict[str, bytes], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    prepare(volume_model.card, sniff(_zip(_one(series)), "file", "", "ok.zip"))
    _refusal(volume_model, _zip(series))
    assert list(tmp_path.iterdir()) == []
