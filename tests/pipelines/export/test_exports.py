"""Every export format round-trips through its own runtime with its parity recorded; loading
never unpickles and ONNX external data stays in the model folder."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import onnx
import pytest
from onnx.external_data_helper import convert_model_to_external_data

from pipelines.export.formats import FORMATS, ExportError, export_package
from pipelines.export.onnx_export import check_external_data, export_onnx
from pipelines.export.package import PackageError, load_package, package_from_zip, save_package
from pipelines.serving.runtime import onnx_session
from tests.model_factories import samples, trained_package


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips_with_recorded_parity(fmt: str, tmp_path: Path) -> None:
    package = trained_package("resnet")
    xs, _ = samples("resnet", 32)
    result = export_package(package, fmt, tmp_path, xs)
    assert result.passed and result.path.is_file()
    record = result.to_dict()
    assert record["max_abs_diff"] <= record["tolerance"] and record["samples"] == 32
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["classes"] == [str(i) for i in range(10)]
    assert card["inputs"][0] == {"name": "image", "shape": [-1, 1, 8, 8], "datatype": "FP32",
                                 "preprocessing": {"input": "image", "scale": 1 / 16}}
    if fmt == "onnx":
        assert record["tolerance"] == 1e-4
        session = onnx_session(result.path)
        assert session.get_inputs()[0].shape[0] == "batch"  # dynamic batch
        assert session.run(None, {"image": xs[0][:5].numpy()})[0].shape == (5, 10)
    if fmt in ("bundle", "pytorch_source"):
        names = zipfile.ZipFile(result.path).namelist()
        assert "weights.safetensors" in names and "card.json" in names
        assert not any(n.endswith((".pt", ".pkl", ".pth")) for n in names)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    xs, _ = samples("mlp", 4)
    with pytest.raises(ExportError) as err:
        export_package(trained_package("mlp"), "pickle", tmp_path, xs)
    assert err.value.code == "unknown_format"


def test_bundle_folder_and_zip_read_back(tmp_path: Path) -> None:
    package = trained_package("mlp")
    folder = save_package(package, tmp_path / "b")
    again = load_package(folder)
    assert again.document == package.document and set(again.weights) == set(package.weights)
    with pytest.raises(PackageError):
        package_from_zip(b"not a zip")
    (folder / "weights.safetensors").write_bytes(b"\x80\x04junk pickle")
    with pytest.raises(PackageError):
        load_package(folder)


def test_onnx_external_data_must_stay_in_the_folder(tmp_path: Path) -> None:
    path = export_onnx(trained_package("mlp"), tmp_path / "ok" / "model.onnx")
    model = onnx.load(str(path))
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    inside = tmp_path / "ok" / "external.onnx"
    onnx.save(model, str(inside))
    check_external_data(inside)  # fine: next to the model
    evil = onnx.load(str(inside), load_external_data=False)
    for tensor in evil.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../../etc/passwd"
    outside = tmp_path / "ok" / "evil.onnx"
    outside.write_bytes(evil.SerializeToString())
    with pytest.raises(PackageError) as err:
        check_external_data(outside)
    assert err.value.code == "external_data_outside"
    with pytest.raises(PackageError):
        onnx_session(outside)
