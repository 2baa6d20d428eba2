from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_signup_signs_in_and_me_answers() -> None:
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/v1/auth/csrf/").json()["csrfToken"]
    response = client.post(
        "/api/v1/auth/signup/",
        {"username": "carol", "email": "c@example.org", "password": "a-long-passphrase-9"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "carol"
    me = client.get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "carol"


def test_signup_rejects_weak_password_naming_the_field() -> None:
    response = APIClient().post(
        "/api/v1/auth/signup/", {"username": "dave", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()


def test_signup_rejects_taken_username_case_insensitively(alice: Any) -> None:
    response = APIClient().post(
        "/api/v1/auth/signup/", {"username": "ALICE", "password": "a-long-passphrase-9"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["username"] == ["This username is taken."]


def test_login_logout_cycle(alice: Any) -> None:
    client = APIClient()
    bad = client.post("/api/v1/auth/login/", {"username": "alice", "password": "nope"}, format="json")
    assert bad.status_code == 400 and "Invalid" in bad.json()["detail"]
    ok = client.post(
        "/api/v1/auth/login/", {"username": "alice", "password": "correct-horse-battery"}, format="json"
    )
    assert ok.status_code == 200
    assert client.get("/api/v1/auth/me/").status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_token_auth_for_scripts(alice: Any) -> None:
    key = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "correct-horse-battery"}, format="json"
    ).json()["token"]
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get("/api/v1/projects/").status_code == 200
    assert script.delete("/api/v1/auth/token/").status_code == 204
    assert script.get("/api/v1/projects/").status_code == 401


def test_session_writes_need_csrf(alice: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.post("/api/v1/auth/login/", {"username": "alice", "password": "correct-horse-battery"}, format="json")
    refused = client.post("/api/v1/projects/", {"name": "p"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = client.cookies["csrftoken"].value
    assert client.post("/api/v1/projects/", {"name": "p"}, format="json", HTTP_X_CSRFTOKEN=token).status_code == 201


def test_anonymous_gets_no_data() -> None:
    response = APIClient().get("/api/v1/projects/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_session_answers_200_for_visitors_and_users(alice: Any) -> None:
    client = APIClient()
    assert client.get("/api/v1/auth/session/").json() == {"user": None}
    client.force_authenticate(alice)
    assert client.get("/api/v1/auth/session/").json()["user"]["username"] == "alice"
