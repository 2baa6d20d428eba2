"""The market's modality names become one list (0010): "volume" entries and cards say "ct",
"tabular" ones say "table"; names already in the list stay."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("builder", "0009_deployments_are_jobs"), ("builder", "0010_market_modality_names")


def _migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def _latest() -> str:
    executor = MigrationExecutor(connection)
    return max(name for app, name in executor.loader.graph.leaf_nodes() if app == "builder")


def test_market_modalities_become_one_list() -> None:
    old = _migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="modal")
    Entry, Version = old.get_model("builder", "MarketEntry"), old.get_model("builder", "MarketEntryVersion")
    ids = {}
    for name in ("volume", "tabular", "ct", "table", "image", "text", ""):
        entry = Entry.objects.create(author=user, kind="template", title=f"t-{name}", modality=name)
        Version.objects.create(entry=entry, number=1, document={}, registry_version=1,
                               card={"modality": name, "title": f"t-{name}"})
        ids[name] = entry.pk

    new = _migrate(AFTER)
    entries = new.get_model("builder", "MarketEntry").objects
    cards = new.get_model("builder", "MarketEntryVersion").objects
    expected = {"volume": "ct", "tabular": "table", "ct": "ct", "table": "table", "image": "image", "text": "text",
                "": ""}
    assert {name: entries.get(pk=pk).modality for name, pk in ids.items()} == expected
    assert {name: cards.get(entry_id=pk).card for name, pk in ids.items()} == {
        name: {"modality": value, "title": f"t-{name}"} for name, value in expected.items()}
    _migrate(("builder", _latest()))
