from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_the_resources() -> None:
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for expected in [
        "/api/v1/projects/", "/api/v1/projects/{id}/", "/api/v1/projects/{project_pk}/members/",
        "/api/v1/graphs/", "/api/v1/graphs/{graph_pk}/versions/", "/api/v1/auth/signup/",
        "/api/v1/auth/token/",
    ]:
        assert expected in paths, expected


def test_interactive_docs_are_served_offline() -> None:
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower() and "cdn.jsdelivr" not in html


def test_healthz_reports_each_part() -> None:
    response = APIClient().get("/healthz")
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "worker"}
    assert body["checks"]["database"]["ok"] is True and body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["broker"]["ok"] is True
    # No worker runs inside this test process, so the stack is honestly reported degraded.
    if not body["checks"]["worker"]["ok"]:
        assert response.status_code == 503 and body["status"] == "degraded"


def test_spa_is_served_for_client_routes() -> None:
    for path in ["/", "/projects/12"]:
        response = APIClient().get(path)
        assert response.status_code in (200, 503)
        assert b"Visual Model Builder" in response.content


def test_admin_registers_every_model(admin_client: Any) -> None:
    for model in ["project", "projectmembership", "graph", "graphversion"]:
        assert admin_client.get(f"/admin/builder/{model}/").status_code == 200
