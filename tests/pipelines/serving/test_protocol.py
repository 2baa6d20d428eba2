"""The Open Inference Protocol over a loaded model: metadata, inference, and every refusal naming
its field."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pipelines.export.package import save_package
from pipelines.serving.protocol import ProtocolError, infer, model_metadata, parse_infer_request
from pipelines.serving.runtime import ModelCache, OnnxModel, TorchModel, load_model
from tests.model_factories import samples, trained_package


@pytest.fixture(scope="module")
def bundle_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_package(trained_package("concat"), tmp_path_factory.mktemp("serve") / "concat")


def _request(x: np.ndarray, **overrides: object) -> dict:
    tensor = {"name": "image", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}
    tensor.update(overrides)
    return {"id": "r1", "inputs": [tensor]}


def test_metadata_comes_from_the_input_contract(bundle_folder: Path) -> None:
    model = load_model(bundle_folder)
    assert isinstance(model, TorchModel)
    meta = model_metadata("digits", "3", model)
    assert meta["name"] == "digits" and meta["versions"] == ["3"]
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 1, 8, 8]}]
    assert meta["outputs"][0]["shape"] == [-1, 10]
    assert meta["parameters"]["classes"][0] == "0"


def test_infer_matches_the_module(bundle_folder: Path) -> None:
    model = load_model(bundle_folder)
    (x,), _ = samples("concat", 4)
    response = infer(model, "digits", "3", _request(x.numpy()))
    assert response["model_name"] == "digits" and response["id"] == "r1"
    out = response["outputs"][0]
    assert out["shape"] == [4, 10] and out["datatype"] == "FP32"
    expected = model.infer([x.numpy()])[0]
    assert np.allclose(np.asarray(out["data"]).reshape(4, 10), expected, atol=1e-5)
    nested = _request(x.numpy(), data=x.numpy().tolist())  # nested lists are row-major too
    assert infer(model, "digits", "3", nested)["outputs"][0]["data"] == out["data"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: [], "body"),
    (lambda r: {"inputs": []}, "inputs"),
    (lambda r: {"inputs": ["x"]}, "inputs[0]"),
    (lambda r: {"inputs": [{**r["inputs"][0], "name": "pixels"}]}, "inputs[0].name"),
    (lambda r: {"inputs": [{**r["inputs"][0], "shape": [2, 1, 8]}]}, "inputs[0].shape"),
    (lambda r: {"inputs": [{**r["inputs"][0], "shape": [2, 3, 8, 8]}]}, "inputs[0].shape"),
    (lambda r: {"inputs": [{**r["inputs"][0], "shape": [0, 1, 8, 8]}]}, "inputs[0].shape"),
    (lambda r: {"inputs": [{**r["inputs"][0], "shape": "2x1x8x8"}]}, "inputs[0].shape"),
    (lambda r: {"inputs": [{**r["inputs"][0], "datatype": "BYTES"}]}, "inputs[0].datatype"),
    (lambda r: {"inputs": [{**r["inputs"][0], "data": r["inputs"][0]["data"][:-1]}]}, "inputs[0].data"),
    (lambda r: {"inputs": [{**r["inputs"][0], "data": ["a"] * 128}]}, "inputs[0].data"),
    (lambda r: {"inputs": [{**r["inputs"][0], "data": [float("nan")] * 128}]}, "inputs[0].data"),
    (lambda r: {"inputs": [{**r["inputs"][0], "data": "AAAA"}]}, "inputs[0].data"),
    (lambda r: {"inputs": r["inputs"] * 2}, "inputs[1].name"),
    (lambda r: {**r, "outputs": [{"name": "nope"}]}, "outputs[0].name"),
    (lambda r: {**r, "id": 5}, "id"),
])
def test_bad_requests_name_the_field(bundle_folder: Path, mutate, field: str) -> None:
    card = load_model(bundle_folder).card
    (x,), _ = samples("concat", 2)
    with pytest.raises(ProtocolError) as err:
        parse_infer_request(mutate(_request(x.numpy())), card)
    assert err.value.status == 400
    assert err.value.field == field
    assert err.value.to_dict()["error"].startswith(field)


def test_fp64_and_int_data_are_accepted_for_fp32(bundle_folder: Path) -> None:
    card = load_model(bundle_folder).card
    x = np.zeros((1, 1, 8, 8))
    arrays, _ = parse_infer_request(_request(x, datatype="FP64"), card)
    assert arrays[0].dtype == np.float32


def test_cache_loads_once_under_concurrency(bundle_folder: Path, tmp_path: Path) -> None:
    from pipelines.export.formats import export_package

    (x,), _ = samples("concat", 2)
    export_package(trained_package("concat"), "onnx", tmp_path, (x,))
    cache = ModelCache()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("7:1", tmp_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in got}) == 1 and isinstance(got[0], OnnxModel)
    assert cache.evict("7:") == 1 and "7:1" not in cache


def test_served_onnx_sessions_take_their_share_of_threads_and_do_not_spin(tmp_path: Path) -> None:
    from pipelines.export.formats import export_package

    (x,), _ = samples("concat", 2)
    export_package(trained_package("concat"), "onnx", tmp_path, (x,))
    model = ModelCache().get("7:1", tmp_path, threads=1)
    assert isinstance(model, OnnxModel)
    options = model.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert load_model(tmp_path).session.get_session_options().intra_op_num_threads == 0  # ORT's default
