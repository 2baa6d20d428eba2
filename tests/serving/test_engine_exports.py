"""A deployment exported for other serving engines (GET /api/v1/deployments/<id>/export/): the
Triton model repository's config parses as Triton's own ModelConfig protobuf and agrees with the
ONNX graph, its model.onnx answers as the served deployment does on the Open Inference Protocol,
and the KServe InferenceService reads as the KServe SDK's model."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from google.protobuf import text_format
from rest_framework.test import APIClient
from tritonclient.grpc import model_config_pb2

from tests.api.test_deploy import _deploy
from tests.k8s_models import inference_service
from tests.model_factories import samples
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)
TOLERANCE = 1e-4  # pipelines.export.formats.TOLERANCE["onnx"]


def _export(api: APIClient, deployment: dict, **query: Any) -> Any:
    return api.get(f"/api/v1/deployments/{deployment['id']}/export/", query)


def _unzip(response: Any, folder: Path) -> Path:
    assert response.status_code == 200, response.content if hasattr(response, "content") else response
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        zf.extractall(folder)
    return folder


def _dims(value: Any) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]


def test_triton_repository_answers_as_the_served_deployment(api: APIClient, model: dict, server: ServingServer,
                                                            tmp_path: Path) -> None:
    deployment, key = _deploy(api, model["id"])
    repository = _unzip(_export(api, deployment, target="triton", max_batch_size=8, max_queue_delay_us=250),
                        tmp_path / "repository")
    assert sorted(p.relative_to(repository).as_posix() for p in repository.rglob("*") if p.is_file()) == [
        "digits/1/model.onnx", "digits/card.json", "digits/config.pbtxt", "digits/labels.txt"]
    config = text_format.Parse((repository / "digits" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert (config.name, config.platform, config.max_batch_size) == ("digits", "onnxruntime_onnx", 8)
    assert config.HasField("dynamic_batching") and config.dynamic_batching.max_queue_delay_microseconds == 250
    # Dims are the ONNX graph's after its free batch dimension, with its element types.
    graph = onnx.load(str(repository / "digits" / "1" / "model.onnx")).graph
    for tensors, values in ((config.input, graph.input), (config.output, graph.output)):
        assert [t.name for t in tensors] == [v.name for v in values]
        for tensor, value in zip(tensors, values, strict=True):
            assert _dims(value)[0] == -1 and list(tensor.dims) == _dims(value)[1:]
            assert tensor.data_type == model_config_pb2.TYPE_FP32 and value.type.tensor_type.elem_type == 1
    card = model["card"]
    assert [(t.name, [-1, *t.dims]) for t in config.input] == [(i["name"], i["shape"]) for i in card["inputs"]]
    assert config.output[0].label_filename == "labels.txt"
    assert (repository / "digits" / "labels.txt").read_text().split() == card["classes"]

    # The same real samples (held-out digits) through the app's /infer and through the file.
    (x,), _labels = samples("concat", n=16)
    body = {"inputs": [{"name": "image", "shape": list(x.shape), "datatype": "FP32", "data": x.numpy().ravel().tolist()}]}
    answer = server.request("POST", "/v2/models/digits/infer", json.dumps(body).encode(),
                            {"Content-Type": "application/json"}, key)
    assert answer.status_code == 200, answer.content
    served = answer.json()["outputs"][0]
    session = ort.InferenceSession(str(repository / "digits" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    (engine,) = session.run(None, {"image": x.numpy()})
    assert served["name"] == config.output[0].name and served["shape"] == list(engine.shape) == [16, 10]
    diff = float(np.abs(np.asarray(served["data"], dtype=np.float32).reshape(engine.shape) - engine).max())
    assert diff <= TOLERANCE, f"Triton's model.onnx differs from the served answers by {diff}"


def test_kserve_manifest_reads_as_the_kserve_sdk_model(api: APIClient, model: dict) -> None:
    deployment, _key = _deploy(api, model["id"], "digits_v1")
    for runtime in ("triton", "onnx"):
        response = _export(api, deployment, target="kserve", runtime=runtime, storage_uri="s3://models/digits",
                           namespace="ml")
        assert response.status_code == 200 and response["Content-Type"] == "application/yaml"
        assert 'filename="digits_v1-inferenceservice.yaml"' in response["Content-Disposition"]
        text = b"".join(response.streaming_content).decode()
        service = inference_service(yaml.safe_load(text))
        assert (service.api_version, service.kind) == ("serving.kserve.io/v1beta1", "InferenceService")
        assert (service.metadata.name, service.metadata.namespace) == ("digits-v1", "ml")  # a DNS-1035 name
        predictor = service.spec.predictor.model
        assert (predictor.model_format.name, predictor.storage_uri, predictor.protocol_version) == (
            runtime, "s3://models/digits", "v2")
        assert text.startswith("# KServe InferenceService") and "s3://models/digits" in text.splitlines()[1]


BAD_QUERIES = [
    ({"target": "torchserve"}, "target"),
    ({}, "target"),
    ({"target": "kserve"}, "storage_uri"),
    ({"target": "kserve", "storage_uri": "ftp://host/model"}, "storage_uri"),
    ({"target": "kserve", "storage_uri": "s3://b/p", "runtime": "tensorrt"}, "runtime"),
    ({"target": "kserve", "storage_uri": "s3://b/p", "namespace": "Not_A_Namespace"}, "namespace"),
    ({"target": "triton", "max_batch_size": 0}, "max_batch_size"),
    ({"target": "triton", "max_queue_delay_us": -1}, "max_queue_delay_us"),
]


def test_bad_queries_answer_400_naming_the_field(api: APIClient, model: dict) -> None:
    deployment, _key = _deploy(api, model["id"])  # one deployment for every case: preparing one takes seconds
    for query, field in BAD_QUERIES:
        response = _export(api, deployment, **query)
        assert response.status_code == 400 and field in response.json(), (query, response.json())


def test_only_a_live_deployment_with_an_onnx_model_of_a_visible_project_exports(
        api: APIClient, model: dict, client_for: Any, bob: Any, settings: Any) -> None:
    deployment, _key = _deploy(api, model["id"])
    assert client_for(bob).get(f"/api/v1/deployments/{deployment['id']}/export/", {"target": "triton"}).status_code == 404
    onnx_file = Path(settings.DEPLOY_DIR) / "deployments" / str(deployment["id"]) / "model.onnx"
    onnx_file.rename(onnx_file.with_suffix(".moved"))  # as when the ONNX export failed its parity check
    bundle_only = _export(api, deployment, target="triton")
    assert bundle_only.status_code == 400 and "PyTorch bundle" in bundle_only.json()["target"][0]
    assert api.delete(f"/api/v1/deployments/{deployment['id']}/").status_code == 200
    stopped = _export(api, deployment, target="triton")
    assert stopped.status_code == 400 and "not live" in stopped.json()["deployment"][0]
