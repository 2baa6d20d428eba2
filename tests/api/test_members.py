from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_id(api: Any) -> int:
    return int(api.post("/api/v1/projects/", {"name": "shared"}, format="json").json()["id"])


def test_owner_adds_viewer_who_can_read_but_not_write(
    api: Any, bob: Any, client_for: Any, project_id: int
) -> None:
    added = api.post(f"/api/v1/projects/{project_id}/members/", {"username": "bob", "role": "viewer"}, format="json")
    assert added.status_code == 201 and added.json()["user"]["username"] == "bob"
    as_bob = client_for(bob)
    assert as_bob.get(f"/api/v1/projects/{project_id}/").json()["role"] == "viewer"
    refused = as_bob.post("/api/v1/graphs/", {"project": project_id, "name": "g"}, format="json")
    assert refused.status_code == 403 and "editor" in refused.json()["detail"]
    assert as_bob.patch(f"/api/v1/projects/{project_id}/", {"name": "mine"}, format="json").status_code == 403
    assert as_bob.delete(f"/api/v1/projects/{project_id}/").status_code == 403


def test_editor_can_create_graphs(api: Any, bob: Any, client_for: Any, project_id: int) -> None:
    api.post(f"/api/v1/projects/{project_id}/members/", {"username": "bob", "role": "editor"}, format="json")
    made = client_for(bob).post("/api/v1/graphs/", {"project": project_id, "name": "g"}, format="json")
    assert made.status_code == 201


def test_role_change_and_removal(api: Any, bob: Any, client_for: Any, project_id: int) -> None:
    mid = api.post(f"/api/v1/projects/{project_id}/members/", {"username": "bob", "role": "viewer"}, format="json").json()["id"]
    changed = api.patch(f"/api/v1/projects/{project_id}/members/{mid}/", {"role": "editor"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    assert api.delete(f"/api/v1/projects/{project_id}/members/{mid}/").status_code == 204
    assert client_for(bob).get(f"/api/v1/projects/{project_id}/").status_code == 404


def test_bad_member_requests_name_the_field(api: Any, bob: Any, project_id: int) -> None:
    url = f"/api/v1/projects/{project_id}/members/"
    unknown = api.post(url, {"username": "nobody", "role": "viewer"}, format="json")
    assert unknown.status_code == 400 and "username" in unknown.json()
    bad_role = api.post(url, {"username": "bob", "role": "god"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()
    api.post(url, {"username": "bob", "role": "viewer"}, format="json")
    twice = api.post(url, {"username": "bob", "role": "viewer"}, format="json")
    assert twice.status_code == 400 and "already" in twice.json()["username"][0]


def test_owner_cannot_be_demoted_or_removed(api: Any, project_id: int) -> None:
    owner_membership = api.get(f"/api/v1/projects/{project_id}/members/").json()["results"][0]
    url = f"/api/v1/projects/{project_id}/members/{owner_membership['id']}/"
    assert api.patch(url, {"role": "viewer"}, format="json").status_code == 400
    assert api.delete(url).status_code == 400
