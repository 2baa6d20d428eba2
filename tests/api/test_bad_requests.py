"""Malformed JSON, wrong types and oversized bodies get a 4xx that names what is wrong."""
from typing import Any

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400(api: Any) -> None:
    response = api.post("/api/v1/projects/", data='{"name": ', content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_wrong_content_type_is_415(api: Any) -> None:
    response = api.post("/api/v1/projects/", data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/projects/", {"name": ["not", "a", "string"]}, "name"),
        ("/api/v1/projects/", {"name": "ok", "description": {"a": 1}}, "description"),
        ("/api/v1/graphs/", {"project": "seven", "name": "g"}, "project"),
        ("/api/v1/graphs/", {"project": 999999, "name": "g"}, "project"),
        ("/api/v1/auth/signup/", {"username": "has space", "password": "a-long-passphrase-9"}, "username"),
        ("/api/v1/auth/signup/", {"username": "ok", "password": "a-long-passphrase-9", "email": "nope"}, "email"),
    ],
)
def test_wrong_types_name_the_field(api: Any, url: str, body: Any, field: str) -> None:
    response = api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_json_array_body_is_400(api: Any) -> None:
    response = api.post("/api/v1/projects/", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


@override_settings(API_MAX_BODY_BYTES=2048)
def test_oversized_body_is_413_naming_the_limit(api: Any) -> None:
    response = api.post("/api/v1/projects/", {"name": "x", "description": "y" * 5000}, format="json")
    assert response.status_code == 413
    assert "2048" in response.json()["detail"]


def test_unknown_ids_are_404_not_500(api: Any) -> None:
    assert api.get("/api/v1/projects/123456/").status_code == 404
    assert api.get("/api/v1/graphs/123456/versions/").status_code == 404
    assert api.get("/api/v1/projects/abc/").status_code == 404


def test_bad_page_and_filter_values_are_4xx(api: Any) -> None:
    assert api.get("/api/v1/projects/?page=999").status_code == 404
    assert api.get("/api/v1/projects/?created_at__gte=yesterday").status_code == 400
    assert api.get("/api/v1/graphs/?project=abc").status_code == 400
