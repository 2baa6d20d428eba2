"""Models, exports and deployments through the API, and the Open Inference Protocol under /v2/
as the serving app answers it (over HTTP, ``tests/serving_client.py``). The Celery tasks are
called in-process here (the integration test runs them in a real worker). Transactional: the
serving index is written when a change commits, as in production."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.deploy import tasks as tasks_deploy
from tests.deploy_factories import make_artifact
from tests.serving_client import ServingServer, hold_queued_tasks, serve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _models_dir(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


@pytest.fixture(autouse=True)
def queued(monkeypatch: Any) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    yield from hold_queued_tasks(monkeypatch)


@pytest.fixture
def v2_server(settings: Any, tmp_path: Path) -> Iterator[ServingServer]:
    yield from serve(tmp_path / "models", settings)


@pytest.fixture
def v2(v2_server: ServingServer) -> Any:
    """A client of the serving app with one key (or none)."""
    return v2_server.client


@pytest.fixture
def artifact(alice: Any) -> Any:
    return make_artifact(alice, "concat")


@pytest.fixture
def model(api: APIClient, artifact: Any) -> dict:
    response = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _deploy(api: APIClient, model_id: int, name: str = "digits") -> tuple[dict, str]:
    response = api.post("/api/v1/deployments/", {"model": model_id, "name": name}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert tasks_deploy.prepare_deployment(body["deployment"]["id"]) == "succeeded"
    return body["deployment"], body["api_key"]


def _infer_body(n: int = 2) -> dict:
    x = np.random.default_rng(0).random((n, 1, 8, 8), dtype=np.float32)
    return {"inputs": [{"name": "image", "shape": [n, 1, 8, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}


def test_trained_model_from_a_run_has_a_card(model: dict, api: APIClient, artifact: Any) -> None:
    assert model["kind"] == "trained" and model["status"] == "succeeded" and model["run"] == artifact.run_id
    card = model["card"]
    assert card["classes"][:2] == ["0", "1"] and card["inputs"][0]["shape"] == [-1, 1, 8, 8]
    assert card["metrics"] == {"test": {"accuracy": 0.95}} and card["dataset"]["name"] == "digits"
    again = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert again.json()["id"] == model["id"]  # one trained model per run


def test_prune_makes_a_new_graph_version_and_report(api: APIClient, model: dict, artifact: Any) -> None:
    response = api.post(f"/api/v1/models/{model['id']}/prune/",
                        {"config": {"method": "l1", "ratio": 0.5}}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    pruned_id = response.json()["id"]
    assert tasks_deploy.compress_variant(pruned_id) == "succeeded"
    pruned = api.get(f"/api/v1/models/{pruned_id}/").json()
    assert pruned["kind"] == "pruned" and pruned["parent"] == model["id"]
    assert pruned["report"]["ratios"]["params"] > 1.5 and pruned["report"]["samples"] == "random"
    version = api.get(f"/api/v1/graphs/{artifact.graph_version.graph_id}/versions/{pruned['graph_version']}/").json()
    assert version["is_valid"] and version["number"] == 2
    assert any(n["params"].get("out_features") == 24 for n in version["document"]["nodes"] if n["id"] == "hidden")


def test_quantize_and_every_export(api: APIClient, model: dict) -> None:
    response = api.post(f"/api/v1/models/{model['id']}/quantize/", {"mode": "static"}, format="json")
    assert response.status_code == 202
    assert tasks_deploy.compress_variant(response.json()["id"]) == "succeeded"
    quantized = api.get(f"/api/v1/models/{response.json()['id']}/").json()
    assert quantized["report"]["ratios"]["file_bytes"] > 2 and quantized["card"]["format"] == "onnx"
    for fmt in ("onnx", "torchscript", "bundle", "pytorch_source"):
        export = api.post(f"/api/v1/models/{model['id']}/exports/", {"format": fmt}, format="json").json()
        assert tasks_deploy.export_variant(export["id"]) == "succeeded"
        done = api.get(f"/api/v1/exports/{export['id']}/").json()
        assert done["verification"]["passed"] and done["verification"]["max_abs_diff"] <= 1e-4
        download = api.get(done["download"])
        assert download.status_code == 200 and len(b"".join(download.streaming_content)) > 1000
    bad = api.post(f"/api/v1/models/{quantized['id']}/exports/", {"format": "torchscript"}, format="json")
    assert bad.status_code == 400 and "format" in bad.json()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("prune", {"config": {"ratio": 2}}, "config.ratio"),
    ("prune", {"config": {"ratio": 0.5, "target_params": 3}}, "config"),
    ("prune", {"config": []}, "config"),
    ("quantize", {"mode": "int4"}, "mode"),
    ("exports", {"format": "pickle"}, "format"),
])
def test_bad_compress_requests_name_the_field(api: APIClient, model: dict, path: str, body: dict, field: str) -> None:
    response = api.post(f"/api/v1/models/{model['id']}/{path}/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


def test_other_users_cannot_see_or_use_models(model: dict, bob: Any, client_for: Any) -> None:
    other = client_for(bob)
    assert other.get(f"/api/v1/models/{model['id']}/").status_code == 404
    assert other.post("/api/v1/deployments/", {"model": model["id"], "name": "x"}, format="json").status_code == 400


def test_deploy_serves_every_protocol_path(api: APIClient, model: dict, v2: Any, queued: list) -> None:
    from tests.conftest import poll

    deployment, key = _deploy(api, model["id"])
    assert key.startswith("vmb_") and ("deploy.prepare_deployment", (deployment["id"],)) in queued
    client = v2(key)
    assert v2(None).get("/v2/health/live").json() == {"live": True}
    assert v2(None).get("/v2/health/ready").json() == {"ready": True}
    assert v2(None).get("/v2/").json()["name"] == "visual-model-builder"
    meta = client.get("/v2/models/digits").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 1, 8, 8]}]
    assert meta["versions"] == [deployment["version"]] and meta["platform"] == "onnxruntime_onnx"
    assert client.get("/v2/models/digits/ready").json() == {"name": "digits", "ready": True}
    response = client.post("/v2/models/digits/infer", _infer_body(3), format="json")
    assert response.status_code == 200, response.content
    out = response.json()["outputs"][0]
    assert out["shape"] == [3, 10] and len(out["data"]) == 30
    versioned = client.post(f"/v2/models/digits/versions/{deployment['version']}/infer", _infer_body(1), format="json")
    assert versioned.status_code == 200
    assert client.get("/v2/models/digits/versions/999").status_code == 404
    # Counts reach Redis within counts.FLUSH_EVERY_S; reading the deployment folds them in.
    detail = poll(lambda: (d := api.get(f"/api/v1/deployments/{deployment['id']}/").json())["metrics"]["requests"] == 2
                  and d, 5, "the two requests counted")
    assert detail["status"] == "succeeded"
    assert detail["metrics"]["latency_ms"]["p50"] > 0


def test_keys_wrong_revoked_and_other_deployments(api: APIClient, model: dict, v2: Any) -> None:
    _deployment, key = _deploy(api, model["id"], "digits-a")
    other_deployment, other_key = _deploy(api, model["id"], "digits-b")
    body = _infer_body()
    for bad_key in (None, "vmb_wrong", other_key):
        response = v2(bad_key).post("/v2/models/digits-a/infer", body, format="json")
        assert response.status_code == 401 and response.json()["field"] == "authorization"
        assert "Bearer" in response["WWW-Authenticate"]
    # An unknown name answers as a deployed one without its key: names cannot be probed for.
    unknown = v2(key).post("/v2/models/unknown/infer", body, format="json")
    assert unknown.status_code == 401 and unknown.json()["field"] == "authorization"
    new = api.post(f"/api/v1/deployments/{other_deployment['id']}/keys/", {"name": "ci"}, format="json").json()
    assert v2(new["api_key"]).post("/v2/models/digits-b/infer", body, format="json").status_code == 200
    listed = api.get(f"/api/v1/deployments/{other_deployment['id']}/keys/").json()
    assert len(listed) == 2 and all("api_key" not in k and "digest" not in k for k in listed)
    revoked = api.post(f"/api/v1/deployments/{other_deployment['id']}/keys/{new['key']['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert v2(new["api_key"]).post("/v2/models/digits-b/infer", body, format="json").status_code == 401
    assert v2(other_key).post("/v2/models/digits-b/infer", body, format="json").status_code == 200


@pytest.mark.parametrize(("mutate", "status", "field"), [
    (lambda b: {"inputs": [{**b["inputs"][0], "shape": [2, 1, 9, 8]}]}, 400, "inputs[0].shape"),
    (lambda b: {"inputs": [{**b["inputs"][0], "datatype": "BYTES"}]}, 400, "inputs[0].datatype"),
    (lambda b: {"inputs": [{**b["inputs"][0], "name": "x"}]}, 400, "inputs[0].name"),
    (lambda b: {"inputs": [{**b["inputs"][0], "data": [1, 2]}]}, 400, "inputs[0].data"),
    (lambda b: {"nothing": 1}, 400, "inputs"),
])
def test_malformed_infer_requests(api: APIClient, model: dict, mutate: Any, status: int, field: str,
                                  v2: Any) -> None:
    _deployment, key = _deploy(api, model["id"])
    response = v2(key).post("/v2/models/digits/infer", mutate(_infer_body()), format="json")
    assert response.status_code == status and response.json()["field"] == field, response.json()


def test_not_json_and_oversized_bodies(api: APIClient, model: dict, v2: Any) -> None:
    from domain.deploy import serving as deploy_serving
    from domain.deploy.models import Deployment

    deployment, key = _deploy(api, model["id"])
    client = v2(key)
    response = client.generic("POST", "/v2/models/digits/infer", b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=100)
    deploy_serving.publish()  # a bulk update sends no signal: say so to serving
    response = client.post("/v2/models/digits/infer", _infer_body(), format="json")
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_rate_limit(api: APIClient, model: dict, v2: Any) -> None:
    from domain.deploy import serving as deploy_serving
    from domain.deploy.models import Deployment

    deployment, key = _deploy(api, model["id"])
    Deployment.objects.filter(pk=deployment["id"]).update(rate_limit_per_minute=1)
    deploy_serving.publish()
    client = v2(key)
    assert client.post("/v2/models/digits/infer", _infer_body(), format="json").status_code == 200
    response = client.post("/v2/models/digits/infer", _infer_body(), format="json")
    assert response.status_code == 429 and response.json()["field"] == "rate"


def test_undeploy_frees_the_name(api: APIClient, model: dict, v2: Any) -> None:
    deployment, key = _deploy(api, model["id"])
    stopped = api.delete(f"/api/v1/deployments/{deployment['id']}/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled" and stopped.json()["stopped_at"]
    assert v2(key).post("/v2/models/digits/infer", _infer_body(), format="json").status_code == 401
    again, _key = _deploy(api, model["id"])  # the name can be used again
    assert again["id"] != deployment["id"]
    taken = api.post("/api/v1/deployments/", {"model": model["id"], "name": "digits"}, format="json")
    assert taken.status_code == 400 and "name" in taken.json()
