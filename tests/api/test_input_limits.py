"""Numbers past the database's range and JSON nested too deep answer 400 naming the problem
(issue 15, item 5): never an OverflowError or RecursionError turned into a 500."""
from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

ID_MAX = 2**63 - 1  # a bigint, the type of every id
TOO_BIG = ID_MAX + 1
DEEP = 100_000


def _deep_json(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/api/v1/models/", {"run": TOO_BIG}, "run"),
    ("/api/v1/market/entries/", {"run": TOO_BIG}, "run"),
    ("/api/v1/market/entries/", {"graph_version": TOO_BIG}, "graph_version"),
    ("/api/v1/graphs/", {"project": TOO_BIG, "name": "g"}, "project"),
    ("/api/v1/graphs/", {"project": -TOO_BIG - 1, "name": "g"}, "project"),
    ("/api/v1/datasets/", {"project": TOO_BIG, "name": "d", "kind": "image"}, "project"),
    ("/api/v1/datasets/from-sample/", {"project": TOO_BIG, "sample": "digits"}, "project"),
    ("/api/v1/graphs/from-template/", {"project": TOO_BIG, "template": "lenet5"}, "project"),
    ("/api/v1/runs/", {"graph_version": TOO_BIG, "dataset_version": 1}, "graph_version"),
    ("/api/v1/runs/estimate/", {"graph_version": 1, "dataset_version": TOO_BIG}, "dataset_version"),
    ("/api/v1/deployments/", {"model": TOO_BIG, "name": "m"}, "model"),
])
def test_an_id_past_the_bigint_range_is_400_naming_the_field(api: Any, url: str, body: dict[str, Any],
                                                             field: str) -> None:
    response = api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    # The serializer refuses it by range: on SQLite the lookup itself raised OverflowError (a 500).
    assert str(ID_MAX) in json.dumps(response.json()[field]), response.json()


def test_a_parent_version_past_the_range_is_400(api: Any, alice: Any) -> None:
    from domain.projects import services

    graph = services.create_graph(alice, services.create_project(alice, name="p"), name="g")
    response = api.post(f"/api/v1/graphs/{graph.pk}/versions/",
                        {"document": {"nodes": [], "edges": []}, "parent": TOO_BIG}, format="json")
    assert response.status_code == 400 and str(ID_MAX) in json.dumps(response.json()["parent"])


@pytest.mark.parametrize("url", [
    f"/api/v1/graphs/?project={TOO_BIG}",
    f"/api/v1/runs/?graph_version={TOO_BIG}",
    f"/api/v1/exports/?variant={TOO_BIG}",
    f"/api/v1/market/entries/?max_params={TOO_BIG}",
])
def test_a_query_string_id_past_the_range_is_400(api: Any, url: str) -> None:
    response = api.get(url)
    assert response.status_code == 400, response.content
    assert url.split("?")[1].split("=")[0] in response.json()


def test_events_after_past_the_range_is_400(api: Any, alice: Any) -> None:
    response = api.get(f"/api/v1/runs/1/events/?after={TOO_BIG}")
    assert response.status_code in (400, 404)  # no run 1: the query is checked first
    assert response.status_code == 400 and "after" in response.json()


@pytest.mark.parametrize("url", [f"/api/v1/projects/{TOO_BIG}/", f"/api/v1/projects/{TOO_BIG}/members/",
                                 f"/api/v1/dataset-versions/{TOO_BIG}/samples/{TOO_BIG}/"])
def test_a_path_id_past_the_range_is_404(api: Any, url: str) -> None:
    assert api.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/api/v1/graphs/validate/", "/api/v1/projects/"])
def test_json_nested_100k_deep_is_400(api: Any, url: str) -> None:
    response = api.post(url, data=_deep_json(DEEP), content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nest" in response.json()["detail"]


def test_json_nested_under_the_interpreter_limit_but_past_ours_is_400(api: Any) -> None:
    # 500 levels parse without a RecursionError, but would strain every recursive walk after.
    response = api.post("/api/v1/graphs/validate/", data=_deep_json(500), content_type="application/json")
    assert response.status_code == 400 and "nest" in response.json()["detail"]


def test_an_ordinary_graph_document_still_parses(api: Any) -> None:
    document = {"nodes": [{"id": "a", "type": "linear", "params": {"in_features": 4, "out_features": 2}}],
                "edges": [], "meta": {"deep": {"enough": {"for": {"anyone": [1, [2, [3]]]}}}}}
    response = api.post("/api/v1/graphs/validate/", data=json.dumps({"document": document}),
                        content_type="application/json")
    assert response.status_code == 200, response.content


def _integers_without_bounds(node: Any, where: str) -> list[str]:
    if isinstance(node, list):
        return [hit for i, item in enumerate(node) for hit in _integers_without_bounds(item, f"{where}[{i}]")]
    if not isinstance(node, dict):
        return []
    hits = []
    if node.get("type") == "integer" and not node.get("readOnly") and ("minimum" not in node or "maximum" not in node):
        hits.append(where)
    return hits + [hit for key, value in node.items() for hit in _integers_without_bounds(value, f"{where}.{key}")]


def test_every_integer_a_client_sends_in_a_body_is_bounded() -> None:
    """The audit as a test: a new request field with an unbounded integer fails here (use
    ``api.fields.IdField`` for ids, ``Int64Field`` or explicit bounds otherwise)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    requests = {name: body for name, body in schema["components"]["schemas"].items() if name.endswith("Request")}
    assert requests, "COMPONENT_SPLIT_REQUEST names request bodies *Request"
    assert _integers_without_bounds(requests, "components") == []
