"""A regressor trained on a scaled target answers in the data's units everywhere it leaves the
trainer: the card says so, ONNX, TorchScript, the bundle and the PyTorch source include the
inverse, and the serving runtime's /predict and infer return prices, not z-scores."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipelines.datasets.targets import TargetTransform
from pipelines.export.formats import FORMATS, export_package
from pipelines.export.package import CARD_FILE, ModelPackage, make_card, save_package
from pipelines.serving.predict import predict
from pipelines.serving.preprocess import parse_row
from pipelines.serving.runtime import OnnxModel, TorchModel, load_model
from tests.pipelines.serving import helpers

PRICE = TargetTransform("standardize", 2e5, 5e4)
LOG = TargetTransform("log", 12.0, 0.25)


def _regressor(transform: TargetTransform | None) -> ModelPackage:
    from builder.graph import compile_graph
    from pipelines.datasets.tables import feature_names

    encoding = helpers.table_encoding()
    document = helpers.table_document(len(feature_names(encoding)))
    document["nodes"][-1]["params"]["out_features"] = 1
    torch.manual_seed(0)
    weights = {k: v.clone() for k, v in compile_graph(document).state_dict().items()}
    recipe = {"input": "table", "encoding": encoding, "features": feature_names(encoding),
              "target_transform": transform.to_dict() if transform else None}
    card = make_card(document, name="price", task="regression", preprocessing=recipe)
    return ModelPackage(document, weights, card)


def _network(package: ModelPackage, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return package.module()(x)


def test_the_card_documents_the_inverse() -> None:
    card = _regressor(PRICE).card
    assert card["target_transform"]["kind"] == "standardize"
    assert card["target_transform"]["mean"] == 2e5 and card["target_transform"]["std"] == 5e4
    assert card["target_transform"]["inverse"] == "y = output * std + mean" and "ONNX" in card["target_transform"]["applied"]
    assert "target_transform" not in _regressor(None).card


@pytest.mark.parametrize("transform", [PRICE, LOG], ids=["standardize", "log"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_answers_in_the_datas_units(tmp_path: Path, fmt: str, transform: TargetTransform) -> None:
    package = _regressor(transform)
    x = torch.randn(16, package.card["inputs"][0]["shape"][1])
    result = export_package(package, fmt, tmp_path, [x])
    assert result.passed, result.to_dict()
    expected = transform.inverse(_network(package, x)).numpy()
    assert 1e4 < float(np.abs(expected).mean()) < 1e6  # a price, not a z-score
    assert json.loads((tmp_path / CARD_FILE).read_text())["target_transform"]["kind"] == transform.kind
    if fmt == "onnx":
        from pipelines.serving.runtime import onnx_session

        got = onnx_session(result.path).run(None, {"features": x.numpy()})[0]
    elif fmt == "torchscript":
        got = torch.jit.load(str(result.path)).eval()(x).detach().numpy()
    elif fmt == "bundle":
        from pipelines.export.package import package_from_zip

        got = package_from_zip(result.path.read_bytes()).serving_module()(x).detach().numpy()
    else:
        got = _run_source(result.path, tmp_path / "source", x)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def _run_source(archive: Path, folder: Path, x: torch.Tensor) -> np.ndarray:
    from pipelines.export.formats import _import_model

    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    from safetensors.torch import load_file

    model = _import_model(folder / "model.py")
    model.load_state_dict(load_file(str(folder / "weights.safetensors")))  # the network's own names
    with torch.no_grad():
        return model.eval()(x).numpy()  # type: ignore[no-any-return]


def test_predict_and_infer_return_prices_from_onnx_and_from_the_bundle(tmp_path: Path) -> None:
    package = _regressor(PRICE)
    bundle = save_package(package, tmp_path / "bundle")
    onnx_folder = tmp_path / "onnx"
    x = torch.randn(4, package.card["inputs"][0]["shape"][1])
    export_package(package, "onnx", onnx_folder, [x])
    (onnx_folder / CARD_FILE).write_text(json.dumps({**package.card, "format": "onnx"}))
    row = {"row": {"age": 47, "smoker": "yes"}}
    from pipelines.datasets.tables import encode_row

    encoded = torch.from_numpy(encode_row(package.card["inputs"][0]["preprocessing"]["encoding"],
                                          {"age": "47", "smoker": "yes"}))[None]
    expected = float(PRICE.inverse(_network(package, encoded)).reshape(-1)[0])
    values = []
    for folder, kind in ((bundle, TorchModel), (onnx_folder, OnnxModel)):
        model: Any = load_model(folder)
        assert isinstance(model, kind)
        answer = predict(model, parse_row(row))
        assert answer["value"] == pytest.approx(expected, rel=1e-5)
        values.append(answer["value"])
        out = model.infer([encoded.numpy()])[0]
        assert float(out.reshape(-1)[0]) == pytest.approx(expected, rel=1e-5)
    assert 1e4 < abs(values[0]) < 1e6


def test_a_model_without_a_transform_is_unchanged(tmp_path: Path) -> None:
    package = _regressor(None)
    x = torch.randn(4, package.card["inputs"][0]["shape"][1])
    assert torch.equal(package.serving_module()(x), package.module()(x))
    result = export_package(package, "onnx", tmp_path, [x])
    assert result.passed and result.max_abs_diff <= 1e-4
