"""Prune, export and deploy a trained model through the API with a real Celery worker, then call
the endpoint over HTTP on the real ASGI server (daphne)."""
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
    deployment = _wait(client, f"/api/v1/deployments/{deployment['id']}/", ("ready", "failed"), live_stack)
    assert deployment["status"] == "ready", deployment["error"]

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

    status, body = _http(live_stack, "POST", "/v2/models/digits-live/infer", "vmb_nope", request)
    assert status == 401 and body["field"] == "authorization"
    status, body = _http(live_stack, "POST", "/v2/models/nobody/infer", key, request)
    assert status == 404 and body["field"] == "name"
    bad = {"inputs": [{**request["inputs"][0], "datatype": "INT64"}]}
    status, body = _http(live_stack, "POST", "/v2/models/digits-live/infer", key, bad)
    assert status == 400 and body["field"] == "inputs[0].datatype"

    stopped = client.delete(f"/api/v1/deployments/{deployment['id']}/").json()
    assert stopped["status"] == "stopped"
    assert _http(live_stack, "POST", "/v2/models/digits-live/infer", key, request)[0] == 404
