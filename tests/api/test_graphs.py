from typing import Any

import pytest

pytestmark = pytest.mark.django_db

VALID = {
    "schema_version": 1,
    "nodes": [
        {"id": "x", "type": "image_input", "params": {"channels": 1, "height": 8, "width": 8}},
        {"id": "c1", "type": "conv2d", "params": {"out_channels": 4, "kernel_size": 3}},
        {"id": "flat", "type": "flatten", "params": {}},
        {"id": "fc", "type": "linear", "params": {"out_features": 10}},
    ],
    "edges": [
        {"source": "x", "target": "c1"},
        {"source": "c1", "target": "flat"},
        {"source": "flat", "target": "fc"},
    ],
}


@pytest.fixture
def graph_id(api: Any) -> int:
    pid = api.post("/api/v1/projects/", {"name": "p"}, format="json").json()["id"]
    return int(api.post("/api/v1/graphs/", {"project": pid, "name": "net"}, format="json").json()["id"])


def test_graph_crud_and_filter_by_project(api: Any, graph_id: int) -> None:
    other = api.post("/api/v1/projects/", {"name": "q"}, format="json").json()["id"]
    api.post("/api/v1/graphs/", {"project": other, "name": "elsewhere"}, format="json")
    pid = api.get(f"/api/v1/graphs/{graph_id}/").json()["project"]
    names = [g["name"] for g in api.get(f"/api/v1/graphs/?project={pid}").json()["results"]]
    assert names == ["net"]
    assert api.patch(f"/api/v1/graphs/{graph_id}/", {"name": "renamed"}, format="json").json()["name"] == "renamed"
    assert api.delete(f"/api/v1/graphs/{graph_id}/").status_code == 204
    assert api.get(f"/api/v1/graphs/{graph_id}/").status_code == 404


def test_graph_project_cannot_be_moved(api: Any, graph_id: int) -> None:
    other = api.post("/api/v1/projects/", {"name": "q"}, format="json").json()["id"]
    before = api.get(f"/api/v1/graphs/{graph_id}/").json()["project"]
    api.patch(f"/api/v1/graphs/{graph_id}/", {"project": other}, format="json")
    assert api.get(f"/api/v1/graphs/{graph_id}/").json()["project"] == before


def test_versions_are_numbered_validated_and_chained(api: Any, graph_id: int) -> None:
    url = f"/api/v1/graphs/{graph_id}/versions/"
    v1 = api.post(url, {"document": VALID, "message": "first"}, format="json")
    assert v1.status_code == 201, v1.content
    assert v1.json()["number"] == 1 and v1.json()["is_valid"] is True and v1.json()["parent"] is None
    broken = {**VALID, "edges": VALID["edges"][:1]}
    v2 = api.post(url, {"document": broken, "message": "half built"}, format="json").json()
    assert v2["number"] == 2 and v2["is_draft"] is True and v2["parent"] == v1.json()["id"]
    assert v2["validation"]["errors"], "a draft carries the report that says why"
    listing = api.get(url).json()
    assert [v["number"] for v in listing["results"]] == [2, 1]
    assert "document" not in listing["results"][0]
    latest = api.get(f"/api/v1/graphs/{graph_id}/").json()["latest_version"]
    assert latest["number"] == 2
    drafts = api.get(url + "?is_valid=false").json()["results"]
    assert [v["number"] for v in drafts] == [2]


def test_versions_are_immutable(api: Any, graph_id: int) -> None:
    vid = api.post(f"/api/v1/graphs/{graph_id}/versions/", {"document": VALID}, format="json").json()["id"]
    url = f"/api/v1/graphs/{graph_id}/versions/{vid}/"
    assert api.patch(url, {"message": "rewrite"}, format="json").status_code == 405
    assert api.put(url, {"document": {}}, format="json").status_code == 405
    assert api.delete(url).status_code == 405
    from domain.projects.models import GraphVersion, ImmutableVersionError

    version = GraphVersion.objects.get(pk=vid)
    version.message = "sneaky"
    with pytest.raises(ImmutableVersionError):
        version.save()


def test_document_must_be_an_object(api: Any, graph_id: int) -> None:
    url = f"/api/v1/graphs/{graph_id}/versions/"
    for bad in ([1, 2], "text", 3):
        response = api.post(url, {"document": bad}, format="json")
        assert response.status_code == 400 and "document" in response.json()
    assert api.post(url, {"message": "no doc"}, format="json").status_code == 400


def test_parent_from_another_graph_is_refused(api: Any, graph_id: int) -> None:
    pid = api.get(f"/api/v1/graphs/{graph_id}/").json()["project"]
    other = api.post("/api/v1/graphs/", {"project": pid, "name": "other"}, format="json").json()["id"]
    foreign = api.post(f"/api/v1/graphs/{other}/versions/", {"document": VALID}, format="json").json()["id"]
    response = api.post(
        f"/api/v1/graphs/{graph_id}/versions/", {"document": VALID, "parent": foreign}, format="json"
    )
    assert response.status_code == 400 and "parent" in response.json()
