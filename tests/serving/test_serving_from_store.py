"""Models and deployments on a shared object store (domain/deploy/store.py, serving/store.py),
against an S3-compatible server (moto). Each "machine" is its own set of folders: the web process
that makes the trained model, a worker that prepares the deployment or writes an export, a web
process that serves the download, and a serving process whose models folder stays empty and which
reads the index and the model from the store, the model through its content-hash cache."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.deploy import tasks as tasks_deploy
from domain.runs import artifacts
from pipelines.serving.runtime import load_model
from pipelines.storage.s3 import S3Location
from tests.deploy_factories import make_artifact
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.serving_client import ServingServer, hold_queued_tasks, serve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def queued(monkeypatch: Any) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    yield from hold_queued_tasks(monkeypatch)


@pytest.fixture
def machine_a(settings: Any, tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> Path:
    """The web side: its own folders, artifacts going to the bucket."""
    settings.STORAGES = s3_server.storages(s3_bucket)
    return _move_to(settings, tmp_path / "a")


def _move_to(settings: Any, machine: Path) -> Path:
    """Make this process another machine: its own, empty folders."""
    settings.CACHE_DIR = machine / "cache"
    settings.TRAINING_RUNS_DIR = machine / "runs"
    settings.DEPLOY_DIR = machine / "models"
    return machine


@pytest.fixture
def machine_b(settings: Any, tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> Iterator[ServingServer]:
    """A serving process with an empty models folder and only the store."""
    store = S3Location(bucket=s3_bucket, endpoint_url=s3_server.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                       region=REGION)
    yield from serve(tmp_path / "b" / "models", settings, store=store, cache_dir=tmp_path / "b" / "cache",
                     index_poll_s=0.05)


def _answer(server: ServingServer, key: str | None, body: dict, want: int, timeout: float = 10) -> Any:
    """The first answer with status ``want`` (the store's index reaches the server within a poll)."""
    deadline = time.monotonic() + timeout
    while True:
        response = server.client(key).post("/v2/models/digits/infer", body, format="json")
        if response.status_code == want or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def _model(machine_a: Path, api: APIClient, alice: Any) -> dict:
    artifact = make_artifact(alice)
    artifacts.store_weights(Path(machine_a / "runs" / artifact.weights_path))  # as the training task does
    response = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_serving_process_needs_only_the_store(machine_a: Path, machine_b: ServingServer, api: APIClient,
                                                alice: Any, settings: Any, tmp_path: Path, s3_server: S3Server,
                                                s3_bucket: str) -> None:
    model = _model(machine_a, api, alice)
    worker = _move_to(settings, tmp_path / "worker")  # the deployment is prepared on another machine
    created = api.post("/api/v1/deployments/", {"model": model["id"], "name": "digits"}, format="json").json()
    deployment, key = created["deployment"], created["api_key"]
    assert tasks_deploy.prepare_deployment(deployment["id"]) == "succeeded"

    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    body = {"inputs": [{"name": "image", "shape": [2, 1, 8, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}
    response = _answer(machine_b, key, body, 200)
    assert response.status_code == 200, response.content
    served = np.asarray(response.json()["outputs"][0]["data"], dtype=np.float32)
    local_folder = worker / "models" / "deployments" / str(deployment["id"])
    expected = load_model(local_folder).infer([x])[0]
    np.testing.assert_allclose(served.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)
    # Machine B read nothing from a models folder; the model's bundle sits in its cache by hash.
    assert not (tmp_path / "b" / "models").exists()
    cached = [p.name for p in (tmp_path / "b" / "cache").iterdir() if not p.name.startswith(".")]
    assert len(cached) == 1 and len(cached[0]) == 64

    pointer = f"models/deployments/{deployment['id']}/bundle.json"
    assert pointer in _keys(s3_server, s3_bucket)
    assert api.delete(f"/api/v1/deployments/{deployment['id']}/").status_code == 200  # undeploy
    assert _answer(machine_b, key, body, 401).status_code == 401  # the store's index said so within a poll
    # Withdrawn from the store: its pointer, and its bundle, which no other pointer names.
    keys = _keys(s3_server, s3_bucket)
    named = {json.loads(s3_server.client().get_object(Bucket=s3_bucket, Key=k)["Body"].read())["name"]
             for k in keys if k.endswith("/bundle.json")}
    assert pointer not in keys and named
    assert {k for k in keys if k.startswith("models/bundles/")} == {f"models/{name}" for name in named}


def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))


def test_an_export_written_by_a_worker_downloads_from_another_web_process(
        machine_a: Path, api: APIClient, alice: Any, settings: Any, tmp_path: Path) -> None:
    model = _model(machine_a, api, alice)
    export = api.post(f"/api/v1/models/{model['id']}/exports/", {"format": "onnx"}, format="json").json()
    worker = _move_to(settings, tmp_path / "worker")
    assert tasks_deploy.export_variant(export["id"]) == "succeeded"
    written = next((worker / "models" / "exports" / str(export["id"])).glob("*.onnx")).read_bytes()
    _move_to(settings, tmp_path / "web-2")
    response = api.get(f"/api/v1/exports/{export['id']}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == written
