"""One modality list in the market (``domain.market.modality``): what a template, a run's dataset
or a person calls it is stored as one of image, ct, table, text; other names are refused with a
400 naming the field; the filter finds an entry by either spelling."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.graph.templates import get_template
from domain.market.modality import MODALITIES
from domain.market.seed import seed_templates
from domain.projects import services
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db
MARKET = "/api/v1/market/entries/"


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.MARKET_DIR = tmp_path / "market"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


def _template(api: APIClient, alice: Any, **body: Any) -> Any:
    project = services.create_project(alice, name="templates")
    graph = services.create_graph(alice, project, name="ct")
    version = services.create_graph_version(alice, graph, document=get_template("lenet5"))
    return api.post(MARKET, {"graph_version": version.pk, "title": "T", **body}, format="json")


def test_other_names_are_stored_as_the_one_name(api: APIClient, alice: Any) -> None:
    entry = _template(api, alice, modality="volume")
    assert entry.status_code == 201 and entry.json()["modality"] == "ct"
    patched = api.patch(f"{MARKET}{entry.json()['id']}/", {"modality": "tabular"}, format="json")
    assert patched.status_code == 200 and patched.json()["modality"] == "table"


@pytest.mark.parametrize("how", ["publish", "patch"])
def test_an_unknown_modality_is_a_400_naming_the_field(api: APIClient, alice: Any, how: str) -> None:
    if how == "publish":
        response = _template(api, alice, modality="smell")
    else:
        entry = _template(api, alice, modality="image").json()
        response = api.patch(f"{MARKET}{entry['id']}/", {"modality": "smell"}, format="json")
    assert response.status_code == 400 and "modality" in response.json(), response.json()
    assert "image, ct, table, text" in str(response.json()["modality"])


def test_a_run_publishes_its_datasets_modality(api: APIClient, alice: Any) -> None:
    artifact = make_artifact(alice, "concat")
    entry = api.post(MARKET, {"run": artifact.run_id, "title": "Digits"}, format="json")
    assert entry.status_code == 201 and entry.json()["modality"] == "image"


def test_seeded_templates_use_the_one_list_and_either_spelling_finds_them(api: APIClient) -> None:
    entries = seed_templates()
    assert {entry.modality for entry in entries} <= set(MODALITIES)
    assert {"ct", "table"} <= {entry.modality for entry in entries}
    by_ct = api.get(f"{MARKET}?modality=ct").json()["count"]
    assert by_ct >= 1 and api.get(f"{MARKET}?modality=volume").json()["count"] == by_ct
