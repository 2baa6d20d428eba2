"""Existing databases keep their data through the job-lifecycle migration: each old dataset
status maps to the one job vocabulary, and back."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("builder", "0007_market"), ("builder", "0008_market_imports_and_job_lifecycle")


def _migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def test_dataset_statuses_map_to_job_statuses_and_back() -> None:
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    user = User.objects.create(username="migrating")
    project = old.get_model("builder", "Project").objects.create(name="p", owner=user)
    dataset = old.get_model("builder", "Dataset").objects.create(project=project, name="d", kind="images")
    Version = old.get_model("builder", "DatasetVersion")
    statuses = {"pending": 0, "ingesting": 0, "ready": 0, "ready_with_warnings": 3, "failed": 0}
    ids = {status: Version.objects.create(dataset=dataset, number=n + 1, status=status, skipped_total=skipped).pk
           for n, (status, skipped) in enumerate(statuses.items())}

    new = _migrate(AFTER)
    after = {status: new.get_model("builder", "DatasetVersion").objects.get(pk=pk).status for status, pk in ids.items()}
    assert after == {"pending": "queued", "ingesting": "running", "ready": "succeeded",
                     "ready_with_warnings": "succeeded", "failed": "failed"}

    back = _migrate(BEFORE)
    restored = {status: back.get_model("builder", "DatasetVersion").objects.get(pk=pk).status for status, pk in ids.items()}
    assert restored == {status: status for status in statuses}
    _migrate(("builder", _latest()))


def _latest() -> str:
    executor = MigrationExecutor(connection)
    return max(name for app, name in executor.loader.graph.leaf_nodes() if app == "builder")
