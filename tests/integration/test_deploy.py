"""Prune, export and deploy a trained model through the API with a real Celery worker, then call
the endpoint over HTTP on the real ASGI server (uvicorn, as `make run` starts it)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.deploy_factories import make_artifact

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait(client: APIClient, url: str, done: tuple[str, ...], stack: Any, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body.get("status") in done:
            return body
        time.sleep(0.5)
    raise AssertionError(f"{url} stayed {body.get('status')}:\n{stack.log_tail()}")


def _http(stack: Any, method: str, path: str, key: str | None = None, body: Any = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(stack.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _raw(stack: Any, path: str, key: str, data: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(stack.url + path, data=data, method="POST", headers=headers)
    request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_prune_export_deploy_infer(live_stack: Any) -> None:
    user = get_user_model().objects.create_user(username="deployer", password="correct-horse-battery")
    client = APIClient()
    client.force_authenticate(user)
    artifact = make_artifact(user, "resnet")
    trained = client.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()

    pruned = client.post(f"/api/v1/models/{trained['id']}/prune/",
                         {"config": {"method": "l2", "scope": "global", "ratio": 0.5}}, format="json").json()
    pruned = _wait(client, f"/api/v1/models/{pruned['id']}/", ("succeeded", "failed"), live_stack)
    assert pruned["status"] == "succeeded", pruned["error"]
    assert pruned["report"]["ratios"]["params"] > 1.5 and pruned["graph_version"] != artifact.graph_version_id

    export = client.post(f"/api/v1/models/{pruned['id']}/exports/", {"format": "onnx"}, format="json").json()
    export = _wait(client, f"/api/v1/exports/{export['id']}/", ("succeeded", "failed"), live_stack)
    assert export["status"] == "succeeded" and export["verification"]["max_abs_diff"] <= 1e-4

    created = client.post("/api/v1/deployments/", {"model": pruned["id"], "name": "digits-live"}, format="json").json()
    key, deployment = created["api_key"], created["deployment"]
    deployment = _wait(client, f"/api/v1/deployments/{deployment['id']}/", ("succeeded", "failed"), live_stack)
    assert deployment["status"] == "succeeded", deployment["error"]

    assert _http(live_stack, "GET", "/v2/health/live") == (200, {"live": True})
    assert _http(live_stack, "GET", "/v2/health/ready") == (200, {"ready": True})
    status, meta = _http(live_stack, "GET", "/v2/models/digits-live", key)
    assert status == 200 and meta["inputs"][0]["shape"] == [-1, 1, 8, 8]
    assert _http(live_stack, "GET", "/v2/models/digits-live/ready", key) == (200, {"name": "digits-live", "ready": True})
    x = np.random.default_rng(1).random((4, 1, 8, 8), dtype=np.float32)
    request = {"id": "a", "inputs": [{"name": "image", "shape": [4, 1, 8, 8], "datatype": "FP32",
                                      "data": x.ravel().tolist()}]}
    status, body = _http(live_stack, "POST", "/v2/models/digits-live/infer", key, request)
    assert status == 200, body
    assert body["id"] == "a" and body["outputs"][0]["shape"] == [4, 10]

    from tests.pipelines.serving.helpers import digit_png

    png, _label = digit_png(1500)
    status, _headers, raw = _raw(live_stack, "/v2/models/digits-live/predict", key, png, {"Content-Type": "image/png"})
    assert status == 200, raw
    predicted = json.loads(raw)
    assert predicted["label"] in predicted["probabilities"] and len(predicted["probabilities"]) == 10
    status, _headers, raw = _raw(live_stack, "/v2/models/digits-live/predict", key, png[:40], {"Content-Type": "image/png"})
    assert status == 400 and json.loads(raw)["field"] == "body"

    tensor = x.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "image", "shape": [4, 1, 8, 8], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(tensor)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    status, headers, raw = _raw(live_stack, "/v2/models/digits-live/infer", key, header + tensor,
                                {"Content-Type": "application/octet-stream",
                                 "Inference-Header-Content-Length": str(len(header))})
    assert status == 200, raw
    split = int(headers["Inference-Header-Content-Length"])
    assert np.allclose(np.frombuffer(raw[split:], dtype="<f4"), body["outputs"][0]["data"], atol=1e-5)
    status, _headers, raw = _raw(live_stack, "/v2/models/digits-live/infer", key, header + tensor[:-4],
                                 {"Content-Type": "application/octet-stream",
                                  "Inference-Header-Content-Length": str(len(header))})
    assert status == 400 and json.loads(raw)["field"] == "inputs[0].parameters.binary_data_size"

    status, body = _http(live_stack, "POST", "/v2/models/digits-live/infer", "vmb_nope", request)
    assert status == 401 and body["field"] == "authorization"
    status, body = _http(live_stack, "POST", "/v2/models/nobody/infer", key, request)
    assert status == 401 and body["field"] == "authorization"  # as a deployed name without its key
    bad = {"inputs": [{**request["inputs"][0], "datatype": "INT64"}]}
    status, body = _http(live_stack, "POST", "/v2/models/digits-live/infer", key, bad)
    assert status == 400 and body["field"] == "inputs[0].datatype"

    stopped = client.delete(f"/api/v1/deployments/{deployment['id']}/").json()
    assert stopped["status"] == "cancelled" and stopped["stopped_at"]
    assert _http(live_stack, "POST", "/v2/models/digits-live/infer", key, request)[0] == 401
