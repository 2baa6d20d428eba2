"""User B cannot list, read, change or delete anything of user A's: every such request is a 404."""
from typing import Any

import pytest

from tests.api.test_graphs import VALID

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices(api: Any) -> dict[str, int]:
    pid = api.post("/api/v1/projects/", {"name": "secret project"}, format="json").json()["id"]
    gid = api.post("/api/v1/graphs/", {"project": pid, "name": "secret graph"}, format="json").json()["id"]
    vid = api.post(f"/api/v1/graphs/{gid}/versions/", {"document": VALID}, format="json").json()["id"]
    mid = api.get(f"/api/v1/projects/{pid}/members/").json()["results"][0]["id"]
    return {"project": pid, "graph": gid, "version": vid, "member": mid}


REQUESTS = [
    ("get", "/api/v1/projects/{project}/", None),
    ("patch", "/api/v1/projects/{project}/", {"name": "mine now"}),
    ("put", "/api/v1/projects/{project}/", {"name": "mine now"}),
    ("delete", "/api/v1/projects/{project}/", None),
    ("post", "/api/v1/projects/{project}/ping/", None),
    ("get", "/api/v1/projects/{project}/members/", None),
    ("post", "/api/v1/projects/{project}/members/", {"username": "bob", "role": "owner"}),
    ("get", "/api/v1/projects/{project}/members/{member}/", None),
    ("patch", "/api/v1/projects/{project}/members/{member}/", {"role": "viewer"}),
    ("delete", "/api/v1/projects/{project}/members/{member}/", None),
    ("get", "/api/v1/graphs/{graph}/", None),
    ("patch", "/api/v1/graphs/{graph}/", {"name": "mine now"}),
    ("put", "/api/v1/graphs/{graph}/", {"name": "mine now", "project": 1}),
    ("delete", "/api/v1/graphs/{graph}/", None),
    ("get", "/api/v1/graphs/{graph}/versions/", None),
    ("post", "/api/v1/graphs/{graph}/versions/", {"document": VALID}),
    ("get", "/api/v1/graphs/{graph}/versions/{version}/", None),
]


@pytest.mark.parametrize(("method", "template", "body"), REQUESTS)
def test_other_user_gets_404(
    alices: dict[str, int], bob: Any, client_for: Any, method: str, template: str, body: Any
) -> None:
    response = getattr(client_for(bob), method)(template.format(**alices), body, format="json")
    assert response.status_code == 404, (method, template, response.status_code, response.content)
    assert "secret" not in response.content.decode()


def test_lists_hide_other_users_objects(alices: dict[str, int], bob: Any, client_for: Any) -> None:
    as_bob = client_for(bob)
    assert as_bob.get("/api/v1/projects/").json()["count"] == 0
    assert as_bob.get("/api/v1/graphs/").json()["count"] == 0
    assert as_bob.get(f"/api/v1/graphs/?project={alices['project']}").status_code in (200, 400)
    filtered = as_bob.get(f"/api/v1/graphs/?project={alices['project']}")
    if filtered.status_code == 200:
        assert filtered.json()["count"] == 0


def test_cannot_create_graph_in_other_users_project(alices: dict[str, int], bob: Any, client_for: Any) -> None:
    response = client_for(bob).post("/api/v1/graphs/", {"project": alices["project"], "name": "x"}, format="json")
    assert response.status_code == 400 and "project" in response.json()
    assert "secret" not in response.content.decode()


def test_nothing_changed_after_the_attempts(alices: dict[str, int], bob: Any, client_for: Any, api: Any) -> None:
    as_bob = client_for(bob)
    for method, template, body in REQUESTS:
        getattr(as_bob, method)(template.format(**alices), body, format="json")
    assert api.get(f"/api/v1/projects/{alices['project']}/").json()["name"] == "secret project"
    assert api.get(f"/api/v1/graphs/{alices['graph']}/").json()["name"] == "secret graph"
    assert api.get(f"/api/v1/graphs/{alices['graph']}/versions/").json()["count"] == 1
    assert api.get(f"/api/v1/projects/{alices['project']}/members/").json()["count"] == 1
