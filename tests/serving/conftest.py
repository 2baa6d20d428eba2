"""Fixtures for the serving app's tests: a deployed digits model (deployed through the API, the
deploy task called in-process) and the app on a real uvicorn server reading its index."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.serving_client import ServingServer, hold_queued_tasks, serve


@pytest.fixture(autouse=True)
def _folders(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.DATASETS_ROOT = tmp_path / "datasets"  # no other test's cache under this dataset's id


@pytest.fixture(autouse=True)
def queued(monkeypatch: Any) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    yield from hold_queued_tasks(monkeypatch)


@pytest.fixture
def server(settings: Any, tmp_path: Path) -> Iterator[ServingServer]:
    yield from serve(tmp_path / "models", settings)


@pytest.fixture
def model(api: APIClient, alice: Any) -> dict:
    from tests.deploy_factories import make_artifact

    response = api.post("/api/v1/models/", {"run": make_artifact(alice, "concat").run_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()
