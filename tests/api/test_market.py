"""The model market through the API: publish, versions, search and sort, visibility between three
users, stars, forks, bundle export and import (and every refused bundle), and the seeded market."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from rest_framework.test import APIClient
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from builder.graph.templates import get_template, list_templates
from domain.market.imports import run_import
from domain.market.models import MarketEntry, MarketFork, MarketImport
from domain.market.services import SYSTEM_USERNAME
from domain.projects import services
from pipelines.market.bundle import sha256
from tests.deploy_factories import make_artifact
from tests.market_bundles import bundle_of, wide_linear

pytestmark = pytest.mark.django_db
MARKET = "/api/v1/market/entries/"


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.MARKET_DIR = tmp_path / "market"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


@pytest.fixture
def carol(make_user: Any) -> Any:
    return make_user("carol")


@pytest.fixture
def artifact(alice: Any) -> Any:
    return make_artifact(alice, "concat")


def _publish(api: APIClient, **body: Any) -> dict:
    response = api.post(MARKET, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _template_version(user: Any, template: str = "lenet5", project: Any = None) -> Any:
    project = project or services.create_project(user, name=f"templates of {user}")
    graph = services.create_graph(user, project, name=template)
    return services.create_graph_version(user, graph, document=get_template(template))


def _version_id(api: APIClient, entry_id: int, number: int = 1) -> int:
    versions = api.get(f"{MARKET}{entry_id}/versions/").json()
    return next(v["id"] for v in versions if v["number"] == number)


def _bundle(api: APIClient, version_id: int) -> bytes:
    response = api.get(f"/api/v1/market/versions/{version_id}/bundle/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content) if response.streaming else response.content


def _import(api: APIClient, data: bytes, **extra: Any) -> Any:
    upload = io.BytesIO(data)
    upload.name = "model.zip"
    return api.post("/api/v1/market/import/", {"file": upload, **extra}, format="multipart")


def _imported(api: APIClient, data: bytes, **extra: Any) -> dict:
    """Import ``data``: the request answers 202 with a queued job, which the worker's own function
    runs here (tests/api/test_market_import_jobs.py runs it through the real Celery worker)."""
    response = _import(api, data, **extra)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued" and response["Location"] == f"/api/v1/market/imports/{job['id']}/"
    run_import(job["id"])
    return api.get(f"/api/v1/market/imports/{job['id']}/").json()


def _imported_entry(api: APIClient, data: bytes, **extra: Any) -> dict:
    job = _imported(api, data, **extra)
    assert job["status"] == "succeeded" and job["progress"] == 1.0, job
    return api.get(f"{MARKET}{job['entry']}/").json()


# ---- publish and versions ------------------------------------------------------------------------
def test_publish_trained_model_records_card_figures_and_weights(api: APIClient, artifact: Any) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits", licence="MIT", visibility="public")
    assert entry["kind"] == "model" and entry["title"] == "Digits" and entry["licence"] == "MIT"
    assert entry["classes"] == list(artifact.classes)
    assert entry["latest_accuracy"] == pytest.approx(0.95)
    assert entry["latest_params"] > 0 and entry["latest_flops"] > 0
    assert entry["input_contract"]["inputs"][0]["shape"][0] == -1
    assert entry["author"] == "alice" and entry["latest_version"] == 1
    version = api.get(f"/api/v1/market/versions/{entry['versions'][0]['id']}/").json()
    assert version["has_weights"] and len(version["weights_sha256"]) == 64
    assert version["metrics"] == {"test": {"accuracy": 0.95}}
    assert version["metrics_dataset"]["name"] == "digits"
    assert version["document"] == artifact.graph_version.document
    assert version["card"]["classes"] == list(artifact.classes)


def test_publish_template_from_graph_version(api: APIClient, alice: Any) -> None:
    version = _template_version(alice)
    entry = _publish(api, graph_version=version.pk, task="classification", modality="image")
    assert entry["kind"] == "template" and entry["title"] == "lenet5" and entry["visibility"] == "private"
    assert entry["latest_accuracy"] is None and not entry["versions"][0]["has_weights"]


def test_new_versions_keep_old_ones(api: APIClient, alice: Any, artifact: Any) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits")
    second = make_artifact(alice, "concat", project=artifact.run.project)
    response = api.post(f"{MARKET}{entry['id']}/versions/", {"run": second.run_id, "changelog": "retrained"},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["number"] == 2
    versions = api.get(f"{MARKET}{entry['id']}/versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert api.get(f"/api/v1/market/versions/{versions[1]['id']}/").status_code == 200


def test_template_version_cannot_go_to_a_model_entry(api: APIClient, alice: Any, artifact: Any) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits")
    response = api.post(f"{MARKET}{entry['id']}/versions/", {"graph_version": _template_version(alice).pk},
                        format="json")
    assert response.status_code == 400 and "entry" in response.json()


def test_only_the_author_publishes_versions(api: APIClient, client_for: Any, bob: Any, alice: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk, visibility="public")
    response = client_for(bob).post(f"{MARKET}{entry['id']}/versions/",
                                    {"graph_version": _template_version(bob).pk}, format="json")
    assert response.status_code == 400 and "entry" in response.json()


@pytest.mark.parametrize("body, field", [({}, "run"), ({"run": 1, "graph_version": 1}, "run"),
                                          ({"run": 999999}, "run"), ({"graph_version": 999999}, "graph_version"),
                                          ({"graph_version": 1, "visibility": "everyone"}, "visibility")])
def test_bad_publish_requests_name_the_field(api: APIClient, body: dict, field: str) -> None:
    response = api.post(MARKET, body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content


def test_cannot_publish_someone_elses_run(client_for: Any, bob: Any, artifact: Any) -> None:
    response = client_for(bob).post(MARKET, {"run": artifact.run_id}, format="json")
    assert response.status_code == 400 and "run" in response.json()


# ---- visibility -------------------------------------------------------------------------------------
def test_visibility_between_three_users(api: APIClient, client_for: Any, alice: Any, bob: Any, carol: Any) -> None:
    project = services.create_project(alice, name="radiology")
    services.add_member(alice, project, bob, "viewer")
    entries = {vis: _publish(api, graph_version=_template_version(alice, project=project).pk, title=vis,
                             visibility=vis)["id"] for vis in ("private", "organization", "public")}
    seen = {name: {e["title"] for e in client.get(MARKET).json()["results"]}
            for name, client in (("alice", api), ("bob", client_for(bob)), ("carol", client_for(carol)))}
    assert seen == {"alice": {"private", "organization", "public"}, "bob": {"organization", "public"},
                    "carol": {"public"}}
    carol_api = client_for(carol)
    for vis in ("private", "organization"):
        entry_id = entries[vis]
        assert carol_api.get(f"{MARKET}{entry_id}/").status_code == 404
        assert carol_api.get(f"{MARKET}{entry_id}/versions/").status_code == 404
        assert carol_api.post(f"{MARKET}{entry_id}/star/").status_code == 404
        version_id = _version_id(api, entry_id)
        assert carol_api.get(f"/api/v1/market/versions/{version_id}/").status_code == 404
        assert carol_api.get(f"/api/v1/market/versions/{version_id}/bundle/").status_code == 404
        assert carol_api.post(f"/api/v1/market/versions/{version_id}/fork/", {"project": 1},
                              format="json").status_code == 404
    assert client_for(bob).get(f"{MARKET}{entries['private']}/").status_code == 404
    assert client_for(bob).get(f"{MARKET}{entries['organization']}/").status_code == 200
    assert client_for(None).get(MARKET).status_code in (401, 403)


def test_author_changes_visibility_and_card_fields(api: APIClient, client_for: Any, alice: Any, carol: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk, title="LeNet")
    url = f"{MARKET}{entry['id']}/"
    assert client_for(carol).get(url).status_code == 404
    response = api.patch(url, {"visibility": "public", "licence": "MIT"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["visibility"] == "public" and response.json()["licence"] == "MIT"
    assert client_for(carol).get(url).status_code == 200
    assert client_for(carol).patch(url, {"title": "mine"}, format="json").json() == {
        "entry": [f"only the author of market entry {entry['id']} can change it"]}
    assert "visibility" in api.patch(url, {"visibility": "everyone"}, format="json").json()
    assert api.put(url, {"title": "x"}, format="json").status_code == 405


# ---- search and sort --------------------------------------------------------------------------------
def test_search_filters_and_sorts(api: APIClient, alice: Any, artifact: Any) -> None:
    model = _publish(api, run=artifact.run_id, title="Digit reader", description="handwritten digits")
    _publish(api, graph_version=_template_version(alice, "tabular_mlp").pk, title="Table MLP", task="classification",
             modality="table")
    _publish(api, graph_version=_template_version(alice, "vgg11").pk, title="VGG", modality="image")

    def titles(**params: Any) -> list[str]:
        response = api.get(MARKET, params)
        assert response.status_code == 200, response.content
        return [e["title"] for e in response.json()["results"]]

    assert titles(q="handwritten") == ["Digit reader"]
    assert titles(modality="table") == ["Table MLP"]
    assert titles(kind="model") == ["Digit reader"]
    assert set(titles(max_params=100_000)) == {"Digit reader", "Table MLP"}
    assert titles(min_params=1_000_000) == ["VGG"]
    assert titles(min_accuracy=0.9) == ["Digit reader"]
    assert titles(sort="accuracy")[0] == "Digit reader"
    assert titles(sort="-size")[0] == "VGG"
    sizes = [e["latest_params"] for e in api.get(MARKET, {"sort": "size"}).json()["results"]]
    assert sizes == sorted(sizes)
    assert titles(sort="recent")[0] == "VGG"
    api.post(f"{MARKET}{model['id']}/star/")
    assert titles(sort="popularity")[0] == "Digit reader"
    assert api.get(MARKET, {"sort": "cheapest"}).status_code == 400
    assert "kind" in api.get(MARKET, {"kind": "weights"}).json()
    assert "min_accuracy" in api.get(MARKET, {"min_accuracy": "lots"}).json()


# ---- stars ------------------------------------------------------------------------------------------
def test_star_is_once_per_user_and_can_be_taken_back(api: APIClient, client_for: Any, alice: Any, bob: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk, visibility="public")
    url = f"{MARKET}{entry['id']}/star/"
    assert api.post(url).json()["stars"] == 1
    assert api.post(url).json()["stars"] == 1
    starred = client_for(bob).post(url).json()
    assert starred["stars"] == 2 and starred["starred"]
    unstarred = api.delete(url).json()
    assert unstarred["stars"] == 1 and not unstarred["starred"]
    assert api.delete(url).json()["stars"] == 1


# ---- forks ------------------------------------------------------------------------------------------
def test_fork_trained_model_into_a_project(api: APIClient, client_for: Any, bob: Any, artifact: Any,
                                           settings: Any) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits", visibility="public")
    bob_api = client_for(bob)
    project = services.create_project(bob, name="my scans")
    version_id = entry["versions"][0]["id"]
    response = bob_api.post(f"/api/v1/market/versions/{version_id}/fork/", {"project": project.pk, "name": "mine"},
                            format="json")
    assert response.status_code == 201, response.content
    forked = response.json()
    assert forked["has_weights"] and forked["project"] == project.pk
    graph = bob_api.get(f"/api/v1/graphs/{forked['graph']}/").json()
    assert graph["name"] == "mine"
    version = bob_api.get(f"/api/v1/graphs/{forked['graph']}/versions/{forked['graph_version']}/").json()
    assert version["document"] == artifact.graph_version.document
    record = MarketFork.objects.get(pk=forked["id"])
    weights = (Path(settings.MARKET_DIR) / record.weights_path).read_bytes()
    assert sha256(weights) == record.weights_sha256 == forked["weights_sha256"]
    trained = st_load((Path(settings.TRAINING_RUNS_DIR) / artifact.weights_path).read_bytes())
    assert all(torch.equal(trained[k], v) for k, v in st_load(weights).items())
    assert bob_api.get(f"{MARKET}{entry['id']}/").json()["forks"] == 1


def test_fork_template_has_no_weights(api: APIClient, alice: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk)
    project = services.create_project(alice, name="target")
    forked = api.post(f"/api/v1/market/versions/{entry['versions'][0]['id']}/fork/", {"project": project.pk},
                      format="json").json()
    assert not forked["has_weights"] and forked["weights_sha256"] == ""


def test_fork_needs_an_editable_project(api: APIClient, client_for: Any, alice: Any, bob: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk, visibility="public")
    url = f"/api/v1/market/versions/{entry['versions'][0]['id']}/fork/"
    alices = services.create_project(alice, name="not bob's")
    assert client_for(bob).post(url, {"project": alices.pk}, format="json").json() == {
        "project": ["no project of yours has this id"]}
    services.add_member(alice, alices, bob, "viewer")
    assert client_for(bob).post(url, {"project": alices.pk}, format="json").status_code == 403


# ---- bundles ----------------------------------------------------------------------------------------
def test_bundle_round_trip_into_another_account(api: APIClient, client_for: Any, bob: Any, artifact: Any) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits", licence="MIT", visibility="public")
    version_id = entry["versions"][0]["id"]
    data = _bundle(api, version_id)
    assert api.get(f"{MARKET}{entry['id']}/").json()["downloads"] == 1
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["card.json", "graph.json", "manifest.json", "weights.safetensors"]
    imported = _imported_entry(client_for(bob), data)
    assert imported["author"] == "bob" and imported["visibility"] == "private" and imported["kind"] == "model"
    assert imported["title"] == "Digits" and imported["licence"] == "MIT"
    assert imported["classes"] == list(artifact.classes) and imported["latest_accuracy"] == pytest.approx(0.95)
    original = api.get(f"/api/v1/market/versions/{version_id}/").json()
    copy = client_for(bob).get(f"/api/v1/market/versions/{imported['versions'][0]['id']}/").json()
    assert copy["weights_sha256"] == original["weights_sha256"]
    assert copy["document"] == original["document"]
    assert copy["params"] == original["params"] and copy["flops"] == original["flops"]


def test_template_bundle_round_trip(api: APIClient, alice: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk, title="LeNet")
    imported = _imported_entry(api, _bundle(api, entry["versions"][0]["id"]))
    assert imported["kind"] == "template" and imported["title"] == "LeNet"


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return out.getvalue()


def _with(members: dict[str, bytes], name: str, blob: bytes, *, fix_hash: bool = True) -> bytes:
    members = dict(members)
    members[name] = blob
    if fix_hash:
        manifest = json.loads(members["manifest.json"])
        manifest["files"][name] = {"sha256": sha256(blob), "bytes": len(blob)}
        members["manifest.json"] = json.dumps(manifest).encode()
    return _zip(members)


def _tampered_weights(m: dict[str, bytes]) -> bytes:
    weights = st_load(m["weights.safetensors"])
    first = next(iter(weights))
    weights[first] = weights[first] + 1
    return _with(m, "weights.safetensors", st_save(weights), fix_hash=False)


def _unknown_layer(m: dict[str, bytes]) -> bytes:
    document = json.loads(m["graph.json"])
    document["nodes"][-1]["type"] = "quantum_entangler"
    return _with(m, "graph.json", json.dumps(document).encode())


def _newer_registry(m: dict[str, bytes]) -> bytes:
    manifest = json.loads(m["manifest.json"])
    manifest["registry_version"] += 1
    return _zip({**m, "manifest.json": json.dumps(manifest).encode()})


def _weights_for_another_graph(m: dict[str, bytes]) -> bytes:
    return _with(m, "weights.safetensors", st_save({"stranger.weight": torch.ones(3)}))


# Refused by the request (400 naming the file): what can be read without the weights.
REFUSED = {
    "unknown_layer": (_unknown_layer, "graph.json", "quantum_entangler"),
    "newer_registry": (_newer_registry, "manifest.json", "registry version"),
    "path_traversal": (lambda m: _zip({**m, "../../etc/cron.d/x": b"{}"}), "../../etc/cron.d/x", "unsafe path"),
    "absolute_path": (lambda m: _zip({**m, "/tmp/x.json": b"{}"}), "/tmp/x.json", "unsafe path"),
    "pickle_inside": (lambda m: _zip({**m, "model.pkl": b"\x80\x04."}), "model.pkl", "unexpected file"),
    "missing_manifest": (lambda m: _zip({k: v for k, v in m.items() if k != "manifest.json"}), "manifest.json",
                         "no manifest.json"),
    "not_a_zip": (lambda m: b"this is not a zip", "", "not a zip"),
    "tampered_graph": (lambda m: _zip({**m, "graph.json": m["graph.json"] + b" "}), "graph.json", "SHA-256"),
}
# Refused by the worker (the job fails naming the file): what needs the weights.
REFUSED_BY_THE_WORKER = {
    "tampered_weights": (_tampered_weights, "weights.safetensors", "SHA-256"),
    "weights_are_a_pickle": (lambda m: _with(m, "weights.safetensors", b"\x80\x04\x95."), "weights.safetensors",
                             "safetensors"),
    "weights_do_not_fit": (_weights_for_another_graph, "weights.safetensors", "does not fit"),
}


def _uploads_left() -> list[Path]:
    from domain.market.services import market_dir

    folder = market_dir() / "imports"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_bundles_answer_400_naming_the_file(api: APIClient, artifact: Any, case: str) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits")
    members = _members(_bundle(api, entry["versions"][0]["id"]))
    make, file, words = REFUSED[case]
    before = MarketEntry.objects.count()
    response = _import(api, make(members))
    assert response.status_code == 400, response.content
    message = response.json()["file"][0]
    assert file in message and words in message, message
    assert MarketEntry.objects.count() == before and not MarketImport.objects.exists()
    assert _uploads_left() == []


@pytest.mark.parametrize("case", list(REFUSED_BY_THE_WORKER))
def test_bundles_refused_by_the_worker_fail_the_job_naming_the_file(api: APIClient, artifact: Any,
                                                                    case: str) -> None:
    entry = _publish(api, run=artifact.run_id, title="Digits")
    members = _members(_bundle(api, entry["versions"][0]["id"]))
    make, file, words = REFUSED_BY_THE_WORKER[case]
    before = MarketEntry.objects.count()
    job = _imported(api, make(members))
    assert job["status"] == "failed" and job["entry"] is None and job["finished_at"], job
    assert job["error"]["field"] == "file" and file in job["error"]["message"] and words in job["error"]["message"]
    assert MarketEntry.objects.count() == before and _uploads_left() == []


def test_a_graph_over_the_parameter_cap_is_refused_before_anything_is_built(api: APIClient) -> None:
    # 529M parameters (the cap is 500M): refused from the shape rules, with no weights at all.
    response = _import(api, bundle_of(wide_linear(23_000, 23_000)))
    assert response.status_code == 400, response.content
    message = response.json()["file"][0]
    assert message == "graph.json: the model has 529.0M parameters; the limit is 500.0M", message
    assert not MarketImport.objects.exists() and _uploads_left() == []


def test_the_job_counts_parameters_statically_and_only_its_owner_sees_it(api: APIClient, client_for: Any,
                                                                         bob: Any) -> None:
    response = _import(api, bundle_of(wide_linear(20_000, 20_000)))  # 400M parameters: under the cap
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["params"] == 400_020_000 and job["kind"] == "bundle" and job["filename"] == "model.zip"
    assert client_for(bob).get(f"/api/v1/market/imports/{job['id']}/").status_code == 404
    assert [j["id"] for j in api.get("/api/v1/market/imports/").json()["results"]] == [job["id"]]


def test_import_requires_a_file(api: APIClient) -> None:
    response = api.post("/api/v1/market/import/", {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()


def test_import_organization_needs_a_project(api: APIClient, alice: Any) -> None:
    entry = _publish(api, graph_version=_template_version(alice).pk)
    response = _import(api, _bundle(api, entry["versions"][0]["id"]), visibility="organization")
    assert response.status_code == 400 and "project" in response.json()


# ---- the seeded market ------------------------------------------------------------------------------
def test_seed_market_publishes_every_template_once(api: APIClient) -> None:
    call_command("seed_market", stdout=io.StringIO())
    call_command("seed_market", stdout=io.StringIO())
    entries = api.get(MARKET, {"kind": "template", "sort": "size"}).json()
    names = {t["name"] for t in list_templates()}
    assert entries["count"] == len(names)
    assert {e["title"] for e in entries["results"]} == names
    assert {e["author"] for e in entries["results"]} == {SYSTEM_USERNAME}
    assert all(e["visibility"] == "public" and e["latest_params"] > 0 for e in entries["results"])
    assert api.get(MARKET, {"modality": "tabular"}).json()["count"] == 1
