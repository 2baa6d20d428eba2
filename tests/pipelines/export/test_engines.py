"""Triton and KServe exports from an ONNX file (pipelines/export/engines.py): the config Triton's
own ModelConfig protobuf reads, the checks against the model card, and the InferenceService."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from pipelines.export import engines
from pipelines.export.onnx_export import export_onnx
from tests.k8s_models import inference_service
from tests.model_factories import trained_package


def _parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    package = trained_package("mlp")
    return export_onnx(package, tmp_path_factory.mktemp("onnx") / "model.onnx"), package.card


def test_the_repository_follows_the_onnx_graph_and_the_card(mlp: tuple[Path, dict], tmp_path: Path) -> None:
    path, card = mlp
    folder = engines.write_triton_repository(path, card, "flat", tmp_path, engines.TritonOptions(4, 0))
    config = _parse((folder / "config.pbtxt").read_text())
    assert [(t.name, list(t.dims)) for t in config.input] == [("features", [64])] == [
        (i["name"], i["shape"][1:]) for i in card["inputs"]]
    assert (config.max_batch_size, config.dynamic_batching.max_queue_delay_microseconds) == (4, 0)
    assert (folder / "1" / "model.onnx").read_bytes() == path.read_bytes()
    # Not a classifier: no labels file, and no output points at one.
    regressor = engines.write_triton_repository(path, {**card, "task": "regression"}, "reg", tmp_path,
                                                engines.TritonOptions())
    assert not (regressor / "labels.txt").exists()
    assert _parse((regressor / "config.pbtxt").read_text()).output[0].label_filename == ""


def test_a_graph_that_disagrees_with_its_card_is_refused(mlp: tuple[Path, dict], tmp_path: Path) -> None:
    path, card = mlp
    wrong = {**card, "inputs": [{**card["inputs"][0], "shape": [-1, 65]}]}
    with pytest.raises(engines.EngineExportError, match="model card") as refused:
        engines.write_triton_repository(path, wrong, "flat", tmp_path, engines.TritonOptions())
    assert refused.value.code == "contract_mismatch" and not (tmp_path / "flat").exists()


def test_a_fixed_batch_dimension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixed.onnx"
    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(2, 3),), str(path), input_names=["x"],
                      output_names=["y"], dynamo=False)
    with pytest.raises(engines.EngineExportError) as refused:
        engines.onnx_tensors(path)
    assert refused.value.code == "no_batch_dimension" and "'x'" in refused.value.message


def test_one_value_per_item_is_reshaped_as_triton_asks() -> None:
    spec = engines.TensorSpec("value", "TYPE_FP32", ())
    config = _parse(engines.triton_config("reg", [engines.TensorSpec("x", "TYPE_INT64", (5,))], [spec],
                                          engines.TritonOptions()))
    assert list(config.output[0].dims) == [1] and config.output[0].HasField("reshape")
    assert list(config.output[0].reshape.shape) == [] and config.input[0].data_type == model_config_pb2.TYPE_INT64


@pytest.mark.parametrize(("options", "field"), [({"max_batch_size": 0}, "max_batch_size"),
                                                 ({"max_queue_delay_us": -1}, "max_queue_delay_us")])
def test_options_out_of_range_name_their_field(options: dict, field: str) -> None:
    with pytest.raises(engines.EngineExportError) as refused:
        engines.TritonOptions(**options)
    assert refused.value.field == field


def test_the_inference_service_reads_as_kserve_s_model() -> None:
    manifest = engines.kserve_inference_service("7_Digits", "pvc://models/digits", "onnx")
    service = inference_service(manifest)
    assert service.metadata.name == "m-7-digits" and service.metadata.namespace is None
    assert service.spec.predictor.model.storage_uri == "pvc://models/digits"
    for args, field in ((("d", "file:///etc/passwd"), "storage_uri"), (("d", "s3://b/p", "tensorrt"), "runtime"),
                        (("-" * 70, "s3://b/p"), "name")):
        with pytest.raises(engines.EngineExportError) as refused:
            engines.kserve_inference_service(*args)
        assert refused.value.field == field


def test_a_misspelt_field_fails_kserve_s_model() -> None:
    manifest = engines.kserve_inference_service("digits", "s3://b/p")
    manifest["spec"]["predictor"]["model"]["storageURI"] = manifest["spec"]["predictor"]["model"].pop("storageUri")
    with pytest.raises(AssertionError, match="storageURI"):
        inference_service(manifest)
