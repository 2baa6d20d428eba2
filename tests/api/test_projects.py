from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_create_makes_caller_owner(api: Any, alice: Any) -> None:
    response = api.post("/api/v1/projects/", {"name": "Lungs", "description": "CT"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["owner"]["username"] == "alice" and body["role"] == "owner"
    listed = api.get("/api/v1/projects/").json()
    assert listed["count"] == 1 and listed["results"][0]["role"] == "owner"


def test_list_is_paginated_searchable_and_ordered(api: Any) -> None:
    for i in range(30):
        api.post("/api/v1/projects/", {"name": f"proj {i:02d}", "description": "x"}, format="json")
    page = api.get("/api/v1/projects/?page_size=10&ordering=name").json()
    assert page["count"] == 30 and len(page["results"]) == 10 and page["next"]
    assert page["results"][0]["name"] == "proj 00"
    found = api.get("/api/v1/projects/?search=proj 07").json()
    assert [p["name"] for p in found["results"]] == ["proj 07"]


def test_owner_updates_and_deletes(api: Any) -> None:
    pid = api.post("/api/v1/projects/", {"name": "a"}, format="json").json()["id"]
    assert api.patch(f"/api/v1/projects/{pid}/", {"name": "b"}, format="json").json()["name"] == "b"
    assert api.delete(f"/api/v1/projects/{pid}/").status_code == 204
    assert api.get(f"/api/v1/projects/{pid}/").status_code == 404


def test_name_is_required_and_bounded(api: Any) -> None:
    missing = api.post("/api/v1/projects/", {"description": "no name"}, format="json")
    assert missing.status_code == 400 and "name" in missing.json()
    long = api.post("/api/v1/projects/", {"name": "x" * 201}, format="json")
    assert long.status_code == 400 and "name" in long.json()
