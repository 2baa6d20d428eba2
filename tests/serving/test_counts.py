"""A deployment's request count: the serving app pushes its counts to Redis in batches, and the
domain folds them into the deployment when it is read (and every SERVING_SYNC_S in a worker)."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from domain.deploy import serving as deploy_serving
from domain.deploy import tasks as tasks_deploy
from domain.deploy.models import Deployment
from pipelines.serving import counts
from tests.api.test_deploy import _deploy, _infer_body
from tests.conftest import poll
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)


def _infer(server: ServingServer, key: str, body: bytes | None = None) -> int:
    return server.request("POST", "/v2/models/digits/infer", body or json.dumps(_infer_body(1)).encode(),
                          {"Content-Type": "application/json"}, key).status_code


def test_the_deployment_shows_every_request_within_a_flush(api: APIClient, model: dict, server: ServingServer) -> None:
    deployment, key = _deploy(api, model["id"])
    assert [_infer(server, key), _infer(server, key), _infer(server, key, b"{not json")] == [200, 200, 400]
    assert Deployment.objects.get(pk=deployment["id"]).request_count == 0  # nothing written per request

    def shown() -> dict | None:
        metrics = api.get(f"/api/v1/deployments/{deployment['id']}/").json()["metrics"]
        return metrics if metrics["requests"] == 3 else None

    metrics = poll(shown, counts.FLUSH_EVERY_S + 3, "three requests on the deployment")
    assert metrics["errors"] == 1 and metrics["latency_window"] == 3 and metrics["latency_ms"]["p50"] > 0
    listed = api.get("/api/v1/deployments/").json()["results"]
    assert [d["metrics"]["requests"] for d in listed if d["id"] == deployment["id"]] == [3]  # folded once only


def test_a_worker_folds_the_counts_and_repairs_the_index(api: APIClient, model: dict, server: ServingServer,
                                                         settings: Any) -> None:
    from pathlib import Path

    deployment, key = _deploy(api, model["id"])
    assert _infer(server, key) == 200
    time.sleep(counts.FLUSH_EVERY_S + 0.5)  # pushed by now
    index = Path(settings.DEPLOY_DIR) / "serving-index.json"
    index.write_text("{}")  # as a crash between a change and its index could leave it
    assert _infer(server, key) == 401  # an index nobody can vouch for serves nothing
    assert tasks_deploy.sync_serving() == 1
    row = Deployment.objects.get(pk=deployment["id"])
    assert (row.request_count, row.error_count, len(row.latencies_ms)) == (1, 0, 1)
    assert _infer(server, key) == 200
    assert deploy_serving.fold_counts() == 0  # nothing left in Redis


def test_counts_pushed_while_a_fold_runs_are_not_lost(api: APIClient, model: dict, server: ServingServer) -> None:
    """Many requests from several clients while the deployment is read again and again: every
    request is counted exactly once in the end."""
    import threading

    deployment, key = _deploy(api, model["id"])
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            deploy_serving.fold_counts()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        clients = [threading.Thread(target=lambda: [_infer(server, key) for _ in range(15)]) for _ in range(4)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
    finally:
        done.set()
        thread.join()
        from django.db import connections

        connections.close_all()

    poll(lambda: deploy_serving.fold_counts() >= 0 and Deployment.objects.get(pk=deployment["id"]).request_count == 60,
         counts.FLUSH_EVERY_S + 5, "60 requests counted")
    time.sleep(counts.FLUSH_EVERY_S + 0.3)
    deploy_serving.fold_counts()
    assert Deployment.objects.get(pk=deployment["id"]).request_count == 60
