"""Real round trips: a Celery worker process through Redis, and WebSockets through Channels."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from config.asgi import application
from domain.projects.services import create_project
from tests.conftest import run_async

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _session_headers(client: APIClient) -> list[tuple[bytes, bytes]]:
    cookie = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    return [(b"cookie", cookie.encode()), (b"origin", b"http://localhost")]


def _signed_in(username: str) -> tuple[Any, APIClient]:
    user = get_user_model().objects.create_user(username=username, password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=username, password="correct-horse-battery")
    return user, client


def test_celery_task_runs_in_a_worker_process(live_stack: Any) -> None:
    from domain.projects.tasks import ping_project

    user, _ = _signed_in("worker_user")
    project = create_project(user, name="celery")
    result = ping_project.delay(project.pk, "n-1")
    assert result.get(timeout=60) == {"type": "worker.pong", "nonce": "n-1", "project": project.pk}


def test_healthz_is_green_with_a_worker(live_stack: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(live_stack.url + "/healthz", timeout=10) as response:
        body = json.loads(response.read())
    assert response.status == 200 and body["status"] == "ok"
    assert body["checks"]["worker"]["workers"]


async def _socket_for(client: APIClient, project_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/projects/{project_id}/", headers=_session_headers(client)
    )
    return communicator


def test_websocket_ping_pong_and_task_event(live_stack: Any) -> None:
    user, client = _signed_in("socket_user")
    project = create_project(user, name="sockets")

    async def scenario() -> None:
        socket = await _socket_for(client, project.pk)
        connected, _ = await socket.connect(timeout=10)
        assert connected
        assert (await socket.receive_json_from(timeout=10)) == {"type": "hello", "project": project.pk}
        await socket.send_json_to({"type": "ping", "nonce": 7})
        assert (await socket.receive_json_from(timeout=10)) == {"type": "pong", "nonce": 7}
        # The worker process publishes to the project's group through Redis; the socket hears it.
        queued = await asyncio.to_thread(client.post, f"/api/v1/projects/{project.pk}/ping/")
        assert queued.status_code == 202
        event = await socket.receive_json_from(timeout=60)
        assert event == {"type": "worker.pong", "nonce": queued.json()["nonce"], "project": project.pk}
        await socket.disconnect()

    run_async(scenario())


def test_websocket_refuses_non_members(live_stack: Any) -> None:
    owner, _ = _signed_in("owner_ws")
    _, stranger = _signed_in("stranger_ws")
    project = create_project(owner, name="private")

    async def scenario() -> None:
        socket = await _socket_for(stranger, project.pk)
        connected, code = await socket.connect(timeout=10)
        assert not connected and code == 4403
        anonymous = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/",
                                          headers=[(b"origin", b"http://localhost")])
        connected, code = await anonymous.connect(timeout=10)
        assert not connected and code == 4403

    run_async(scenario())
