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


def test_deployment_statuses_map_to_job_statuses_and_back() -> None:
    old = _migrate(("builder", "0008_market_imports_and_job_lifecycle"))
    model = old.get_model
    user = model("auth", "User").objects.create(username="deploying")
    project = model("builder", "Project").objects.create(name="p", owner=user)
    graph = model("builder", "Graph").objects.create(project=project, name="g")
    version = model("builder", "GraphVersion").objects.create(graph=graph, number=1, document={})
    dataset = model("builder", "Dataset").objects.create(project=project, name="d", kind="image")
    data = model("builder", "DatasetVersion").objects.create(dataset=dataset, number=1, status="succeeded")
    run = model("builder", "TrainingRun").objects.create(project=project, graph_version=version, dataset_version=data)
    artifact = model("builder", "RunArtifact").objects.create(run=run, graph_version=version, weights_path="w",
                                                               weights_sha256="0" * 64)
    variant = model("builder", "ModelVariant").objects.create(project=project, kind="trained", name="m",
                                                              artifact=artifact)
    Deployment = model("builder", "Deployment")
    from django.utils import timezone

    now = timezone.now()
    ids = {status: Deployment.objects.create(project=project, variant=variant, name=f"d-{status}", status=status,
                                             ready_at=now if status in ("ready", "stopped") else None,
                                             stopped_at=now if status == "stopped" else None).pk
           for status in ("deploying", "ready", "failed", "stopped")}

    new = _migrate(("builder", "0009_deployments_are_jobs")).get_model("builder", "Deployment")
    after = {status: new.objects.get(pk=pk) for status, pk in ids.items()}
    assert {status: row.status for status, row in after.items()} == {
        "deploying": "queued", "ready": "succeeded", "failed": "failed", "stopped": "cancelled"}
    assert after["ready"].finished_at == now and after["stopped"].finished_at == now
    # A stopped name is free again; a live one stays unique (the constraint follows the vocabulary).
    new.objects.create(project_id=project.pk, variant_id=variant.pk, name="d-stopped", status="queued")

    back = _migrate(("builder", "0008_market_imports_and_job_lifecycle")).get_model("builder", "Deployment")
    assert {status: back.objects.get(pk=pk).status for status, pk in ids.items()} == {s: s for s in ids}
    back.objects.filter(name="d-stopped", status="deploying").delete()
    _migrate(("builder", _latest()))


# The market's modality names become one list (0010): "volume" entries and cards say "ct",
# "tabular" ones say "table"; names already in the list stay.
MODALITY_BEFORE, MODALITY_AFTER = ("builder", "0009_deployments_are_jobs"), ("builder", "0010_market_modality_names")


def test_market_modalities_become_one_list() -> None:
    old = _migrate(MODALITY_BEFORE)
    user = old.get_model("auth", "User").objects.create(username="modal")
    Entry, Version = old.get_model("builder", "MarketEntry"), old.get_model("builder", "MarketEntryVersion")
    ids = {}
    for name in ("volume", "tabular", "ct", "table", "image", "text", ""):
        entry = Entry.objects.create(author=user, kind="template", title=f"t-{name}", modality=name)
        Version.objects.create(entry=entry, number=1, document={}, registry_version=1,
                               card={"modality": name, "title": f"t-{name}"})
        ids[name] = entry.pk

    new = _migrate(MODALITY_AFTER)
    entries = new.get_model("builder", "MarketEntry").objects
    cards = new.get_model("builder", "MarketEntryVersion").objects
    expected = {"volume": "ct", "tabular": "table", "ct": "ct", "table": "table", "image": "image", "text": "text",
                "": ""}
    assert {name: entries.get(pk=pk).modality for name, pk in ids.items()} == expected
    assert {name: cards.get(entry_id=pk).card for name, pk in ids.items()} == {
        name: {"modality": value, "title": f"t-{name}"} for name, value in expected.items()}
    _migrate(("builder", _latest()))
