"""A deployment's request count: written in batches, yet right whenever a user looks at it."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from rest_framework.test import APIClient

from api import inference_metrics
from api.views_inference import _write_metrics
from builder.deploy_models import Deployment
from pipelines import tasks_deploy
from tests.conftest import run_async
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _folders_and_no_pending_counts(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.DATASETS_ROOT = tmp_path / "datasets"  # no other test's cache under this dataset's id
    inference_metrics.metrics.drain()  # counts other tests left in this process


@pytest.fixture
def deployed(api: APIClient, alice: Any) -> tuple[int, str]:
    artifact = make_artifact(alice, "concat")
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    body = api.post("/api/v1/deployments/", {"model": model["id"], "name": "digits"}, format="json").json()
    assert tasks_deploy.prepare_deployment(body["deployment"]["id"]) == "ready"
    return body["deployment"]["id"], body["api_key"]


def _infer(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    body = {"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}
    return client.post("/v2/models/digits/infer", body, format="json").status_code


def test_the_deployment_counts_every_request_made_just_before(api: APIClient, deployed: tuple[int, str]) -> None:
    deployment_id, key = deployed
    inference_metrics.metrics.flushed_at = 0.0  # the last write long ago: the first request writes at once
    assert [_infer(key), _infer(key)] == [200, 200]
    # The second request came within FLUSH_EVERY_S of the first write: it is still pending here.
    assert Deployment.objects.get(pk=deployment_id).request_count == 1
    detail = api.get(f"/api/v1/deployments/{deployment_id}/").json()
    assert detail["metrics"]["requests"] == 2 and detail["metrics"]["errors"] == 0
    listed = api.get("/api/v1/deployments/").json()["results"]
    assert [d["metrics"]["requests"] for d in listed if d["id"] == deployment_id] == [2]


def test_a_burst_is_written_without_waiting_for_a_next_request(deployed: tuple[int, str]) -> None:
    deployment_id, _key = deployed
    inference_metrics.metrics.flushed_at = 0.0

    async def burst() -> None:
        for ok in (True, True, False):
            await inference_metrics.count_request(deployment_id, ok, 4.0, _write_metrics)
        row = await Deployment.objects.aget(pk=deployment_id)
        assert row.request_count == 1  # the first one at once, the rest batched
        await asyncio.sleep(inference_metrics.FLUSH_EVERY_S + 0.5)
        await sync_to_async(lambda: connection.close())()  # the executor thread's, which wrote the counts

    run_async(burst())
    row = Deployment.objects.get(pk=deployment_id)
    assert (row.request_count, row.error_count, len(row.latencies_ms)) == (3, 1, 3)
    assert inference_metrics.metrics.pending == {}
