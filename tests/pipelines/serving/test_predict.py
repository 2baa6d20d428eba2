"""predict: uploads through the model's own recorded preprocessing (the ingest readers and the
training transforms), and uploads refused with the part and the problem named."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.export.package import save_package
from pipelines.serving.predict import predict
from pipelines.serving.preprocess import parse_row, prepare, sniff
from pipelines.serving.protocol import ProtocolError
from pipelines.serving.runtime import load_model
from tests.model_factories import trained_package
from tests.pipelines.serving import helpers


def _served(tmp_path: Path, pkg: Any) -> Any:
    return load_model(save_package(pkg, tmp_path / "model"))


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory: Any) -> Any:
    return _served(tmp_path_factory.mktemp("digits"), trained_package("concat"))


def test_a_png_digit_is_preprocessed_like_training_and_classified(digits_model: Any) -> None:
    from sklearn.datasets import load_digits

    images = load_digits().images
    batch = prepare(digits_model.card, sniff(helpers.digit_png(1500)[0], "file"))
    assert batch.shape == (1, 1, 8, 8) and batch.dtype == np.float32
    assert np.abs(batch[0, 0] - images[1500] / 16.0).max() <= 1 / 255  # 8-bit rounding only
    labels = [helpers.digit_png(i)[1] for i in range(1500, 1530)]
    answers = [predict(digits_model, sniff(helpers.digit_png(i)[0], "file")) for i in range(1500, 1530)]
    assert sum(a["label"] == str(y) for a, y in zip(answers, labels, strict=True)) >= 24
    probabilities = list(answers[0]["probabilities"].values())
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-4
    assert answers[0]["label"] == next(iter(answers[0]["probabilities"]))


def test_a_larger_rgb_jpeg_is_resized_and_greyed_like_ingest(digits_model: Any) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (200, 10, 10)).save(buffer, format="JPEG")
    batch = prepare(digits_model.card, sniff(buffer.getvalue(), "file", "image/jpeg"))
    assert batch.shape == (1, 1, 8, 8) and 0 <= batch.min() and batch.max() <= 1


def test_a_dicom_slice_goes_through_hu_window_and_resample(tmp_path: Path) -> None:
    from pipelines.datasets.options import Window

    model = _served(tmp_path, helpers.package(helpers.ct_document("2d"), helpers.ct_recipe("2d"), helpers.CT_CLASSES))
    upload = sniff(helpers.ct_small(), "file", "application/dicom")
    assert upload.kind == "dicom"
    batch = prepare(model.card, upload)
    assert batch.shape == (1, 1, 16, 16) and 0 <= batch.min() and batch.max() <= 1
    # The same numbers as the ingest readers and the training window give.
    import io

    import pydicom
    import torch

    ds = pydicom.dcmread(io.BytesIO(helpers.ct_small()))
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    small = torch.nn.functional.interpolate(torch.from_numpy(hu)[None, None, None], size=(1, 16, 16),
                                            mode="trilinear", align_corners=False)[0, 0, 0].numpy()
    low, high = Window(preset="lung").bounds()
    expected = np.clip((np.clip(small, -1024, 3071).round() - low) / (high - low), 0, 1)
    # On RAS axes, as every CT is cached: CT_small is axial, its rows (to posterior) and columns
    # (to the patient's left) are reversed.
    assert np.abs(batch[0, 0] - expected[::-1, ::-1]).max() < 1e-5
    # A model trained on DICOM before the layout was recorded gets the slice as stored.
    legacy = _served(tmp_path / "legacy", helpers.package(helpers.ct_document("2d"),
                                                          {**helpers.ct_recipe("2d"), "kind": "ct_dicom"},
                                                          helpers.CT_CLASSES))
    assert np.abs(prepare(legacy.card, upload)[0, 0] - expected).max() < 1e-5
    answer = predict(model, upload)
    assert set(answer["probabilities"]) == set(helpers.CT_CLASSES) and answer["label"] in helpers.CT_CLASSES


@pytest.mark.parametrize("gz", [True, False])
def test_a_nifti_volume_for_3d_and_for_slice_models(tmp_path: Path, gz: bool) -> None:
    volume = helpers.nifti(gz=gz)
    model3d = _served(tmp_path / "3d", helpers.package(helpers.ct_document("3d"), helpers.ct_recipe("3d"),
                                                       helpers.CT_CLASSES))
    assert prepare(model3d.card, sniff(volume, "file")).shape == (1, 1, 8, 16, 16)
    model2d = _served(tmp_path / "2d", helpers.package(helpers.ct_document("2d"), helpers.ct_recipe("2d"),
                                                       helpers.CT_CLASSES))
    answer = predict(model2d, sniff(volume, "file"))
    assert answer["samples"] == 8 and abs(sum(answer["probabilities"].values()) - 1) < 1e-4


def test_a_table_row_uses_the_saved_encoding(tmp_path: Path) -> None:
    from pipelines.datasets.tables import encode_row, feature_names

    encoding = helpers.table_encoding()
    width = len(feature_names(encoding))
    recipe = {"input": "table", "encoding": encoding, "features": feature_names(encoding)}
    model = _served(tmp_path, helpers.package(helpers.table_document(width), recipe, ["high", "low"]))
    batch = prepare(model.card, parse_row({"row": {"age": 47, "smoker": "yes"}}))
    assert np.array_equal(batch[0], encode_row(encoding, {"age": "47", "smoker": "yes"}))
    missing = prepare(model.card, parse_row({"row": {"age": None}}))
    assert missing.shape == (1, width)
    assert predict(model, parse_row({"row": {"age": 30, "smoker": "no"}}))["label"] in ("high", "low")
    with pytest.raises(ProtocolError) as caught:
        prepare(model.card, parse_row({"row": {"weight": 3}}))
    assert caught.value.status == 400 and caught.value.field == "row.weight"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds none."""
    import zlib

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x00\x00\x00\x00"
    chunk = len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + zlib.crc32(b"IHDR" + ihdr).to_bytes(4, "big")
    idat = (0).to_bytes(4, "big") + b"IDAT" + zlib.crc32(b"IDAT").to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + chunk + idat


def _dicom_with(**tags: Any) -> bytes:
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(helpers.ct_small()))
    for name, value in tags.items():
        setattr(ds, name, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


@pytest.mark.parametrize(("make", "declared", "status", "code"), [
    (lambda: b"hello, not an image" * 30, "", 415, "unsupported_file"),
    (lambda: helpers.digit_png(0)[0][:60], "", 400, "corrupt_image"),
    (lambda: helpers.digit_png(0)[0], "application/dicom", 415, "type_mismatch"),
    (lambda: helpers.ct_small(), "", 415, "wrong_input_kind"),
    (lambda: _png_header(100_000, 100_000), "", 400, "image_too_large"),
    (lambda: _png_header(7000, 7000), "", 400, "image_too_large"),  # under PIL's bomb guard, over ours
])
def test_bad_files_for_an_image_model(digits_model: Any, make: Any, declared: str, status: int, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        prepare(digits_model.card, sniff(make(), "file", declared))
    assert (caught.value.status, caught.value.code, caught.value.field) == (status, code, "file")


@pytest.mark.parametrize(("data", "code"), [
    (lambda: _dicom_with(Rows=60000, Columns=60000), "image_too_large"),
    (lambda: helpers.ct_small()[:20000], "truncated"),
    (lambda: helpers.nifti()[:300], "not_nifti"),
])
def test_bad_ct_files_are_refused_on_their_headers(tmp_path: Path, data: Any, code: str) -> None:
    model = _served(tmp_path, helpers.package(helpers.ct_document("2d"), helpers.ct_recipe("2d"), helpers.CT_CLASSES))
    with pytest.raises(ProtocolError) as caught:
        prepare(model.card, sniff(data(), "file"))
    assert caught.value.status == 400 and caught.value.code == code, caught.value.message


def test_a_single_dicom_slice_is_refused_by_a_volume_model(tmp_path: Path) -> None:
    model = _served(tmp_path, helpers.package(helpers.ct_document("3d"), helpers.ct_recipe("3d"), helpers.CT_CLASSES))
    with pytest.raises(ProtocolError) as caught:
        prepare(model.card, sniff(helpers.ct_small(), "file"))
    assert caught.value.status == 415 and "NIfTI" in caught.value.message


@pytest.mark.parametrize(("body", "field"), [
    ({"rows": {}}, "row"), ([1, 2], "row"), ({"row": {"age": [1]}}, "row.age"), ({"row": {"age": float("nan")}}, "row.age"),
])
def test_bad_rows(body: Any, field: str, tmp_path: Path) -> None:
    encoding = helpers.table_encoding()
    from pipelines.datasets.tables import feature_names

    recipe = {"input": "table", "encoding": encoding}
    model = _served(tmp_path, helpers.package(helpers.table_document(len(feature_names(encoding))), recipe, ["a", "b"]))
    with pytest.raises(ProtocolError) as caught:
        prepare(model.card, parse_row(body))
    assert caught.value.status == 400 and caught.value.field == field
