"""The OpenAPI schema tells the truth: schemathesis drives every /api/v1/ operation in-process.

Each operation gets generated requests (valid and invalid, from a fixed seed) from a signed-in
user who owns a project, a graph with a version and a dataset; every response must be a
documented status code whose body matches the documented schema, and none may be a 5xx.

This is the bounded run that ``make test`` holds (about ``EXAMPLES`` requests per operation).
docs/reference/api-schema.md says how to run the long sweep against a running server.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = 8
# tus chunks (PATCH /uploads/{id}/) are raw bytes, sent as such.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _load_schema() -> Any:
    """The schema as the server describes it now, served to schemathesis by Django's WSGI app."""
    from django.core.handlers.wsgi import WSGIHandler
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = WSGIHandler()
    return loaded


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Django closes the database connection after each request when it is not in autocommit
    (here: inside the test's transaction); its own test client keeps it open the same way, by not
    listening for the request signals while it runs."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def owner_token(make_user: Any) -> str:
    """A user who owns something of each kind the generated ids may hit; their API token."""
    from rest_framework.authtoken.models import Token

    from domain.datasets import services as dataset_services
    from domain.projects import services

    user = make_user("schemathesis")
    project = services.create_project(user, name="conformance")
    graph = services.create_graph(user, project, name="g")
    services.create_graph_version(user, graph, document={"nodes": [], "edges": []}, message="first")
    dataset_services.create_dataset(user, project, name="d", kind="image")
    return Token.objects.create(user=user).key


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_answers_as_documented(case: Any, owner_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {owner_token}"}, checks=CHECKS)
