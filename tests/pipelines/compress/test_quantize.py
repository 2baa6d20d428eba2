"""int8 post-training quantization with ONNX Runtime, and its report."""
from __future__ import annotations

import json
from pathlib import Path

from pipelines.compress.quantize import choose_mode, quantize_package
from pipelines.compress.report import compare, measure_onnx, measure_package
from pipelines.serving.runtime import load_model
from tests.model_factories import samples, trained_package


def test_dynamic_quantization_of_an_mlp(tmp_path: Path) -> None:
    package = trained_package("mlp")
    xs, ys = samples("mlp", 200)
    assert choose_mode(package, "auto") == "dynamic"
    path, mode = quantize_package(package, tmp_path / "q")
    assert mode == "dynamic" and path.name == "model.onnx"
    before = measure_package(package, xs, ys, repeats=2)
    report = compare(before, measure_onnx(path, xs, ys, params=before["params"], repeats=2))
    assert report["ratios"]["file_bytes"] > 2  # int8 weights
    assert abs(report["accuracy_change_points"]) <= 5
    card = json.loads((tmp_path / "q" / "card.json").read_text())
    assert card["format"] == "onnx" and card["quantization"]["mode"] == "dynamic"


def test_static_quantization_of_a_cnn_is_calibrated_and_servable(tmp_path: Path) -> None:
    package = trained_package("concat")
    xs, ys = samples("concat", 200)
    path, mode = quantize_package(package, tmp_path / "q", mode="auto", calibration=xs)
    assert mode == "static"
    before = measure_package(package, xs, ys, repeats=2)
    after = measure_onnx(path, xs, ys, repeats=2)
    assert before["file_bytes"] / after["file_bytes"] > 2
    assert abs(100 * (after["accuracy"] - before["accuracy"])) <= 5
    model = load_model(tmp_path / "q")
    (out,) = model.infer([xs[0][:3].numpy()])
    assert out.shape == (3, 10)
