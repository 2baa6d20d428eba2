"""The rate limit is one window per deployment shared through Redis: two serving app instances
(as two workers or replicas) together admit at most the limit."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from domain.deploy import serving as deploy_serving
from domain.deploy.models import Deployment
from serving.app import ServingApp
from tests.api.test_deploy import _deploy, _infer_body
from tests.serving_client import ServingServer, start

pytestmark = pytest.mark.django_db(transaction=True)


def _status(server: ServingServer, key: str) -> int:
    return server.request("POST", "/v2/models/digits/infer", json.dumps(_infer_body(1)).encode(),
                          {"Content-Type": "application/json"}, key).status_code


@pytest.mark.parametrize("limit", [1, 5, 40])
def test_two_instances_share_one_window(api: APIClient, model: dict, server: ServingServer, settings: Any,
                                        tmp_path: Path, limit: int) -> None:
    deployment, key = _deploy(api, model["id"])
    Deployment.objects.filter(pk=deployment["id"]).update(rate_limit_per_minute=limit)
    deploy_serving.publish()
    other = ServingServer(ServingApp(server.app.settings))  # same index, same Redis prefix
    try:
        answers = [_status(s, key) for _ in range(limit + 10) for s in (server, other)]
    finally:
        other.stop()
    assert answers.count(200) == limit and set(answers) == {200, 429}
    assert answers[:limit] == [200] * limit  # no one is refused before the window is used up


def test_a_separate_installation_has_its_own_windows(api: APIClient, model: dict, server: ServingServer,
                                                     settings: Any, tmp_path: Path) -> None:
    deployment, key = _deploy(api, model["id"])
    Deployment.objects.filter(pk=deployment["id"]).update(rate_limit_per_minute=1)
    deploy_serving.publish()
    assert [_status(server, key), _status(server, key)] == [200, 429]
    elsewhere = start(tmp_path / "models")  # another Redis prefix
    try:
        assert _status(elsewhere, key) == 200
    finally:
        elsewhere.stop()
