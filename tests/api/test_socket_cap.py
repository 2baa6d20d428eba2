"""No user holds more than WS_MAX_PER_USER open WebSockets, across processes (issue 15: one user
opened 1500). The count lives in Redis, so a second web process sees the first one's sockets."""
from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from api import sockets
from config.asgi import application
from domain.projects.services import create_project
from tests.conftest import run_async

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(username: str) -> tuple[Any, list[tuple[bytes, bytes]]]:
    user = get_user_model().objects.create_user(username=username, password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=username, password="correct-horse-battery")
    cookie = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    return user, [(b"cookie", cookie.encode()), (b"origin", b"http://localhost")]


def test_sockets_over_the_cap_are_refused_and_a_closed_one_frees_its_slot(settings: Any) -> None:
    settings.WS_MAX_PER_USER = 3
    user, headers = _signed_in("many_sockets")
    _, other_headers = _signed_in("other_user")
    project = create_project(user, name="sockets")
    other_project = create_project(get_user_model().objects.get(username="other_user"), name="theirs")

    async def scenario() -> None:
        open_ = []
        for _ in range(3):
            socket = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/", headers=headers)
            connected, _code = await socket.connect(timeout=10)
            assert connected
            open_.append(socket)
        extra = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/", headers=headers)
        connected, code = await extra.connect(timeout=10)
        assert not connected and code == 4429
        await extra.disconnect()  # as a server would after the close: the refused consumer ends
        # Another user is not affected by this one's sockets.
        theirs = WebsocketCommunicator(application, f"/ws/projects/{other_project.pk}/", headers=other_headers)
        assert (await theirs.connect(timeout=10))[0]
        await theirs.disconnect()
        # Closing one frees a slot.
        await open_.pop().disconnect()
        again = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/", headers=headers)
        assert (await again.connect(timeout=10))[0]
        open_.append(again)
        for socket in open_:
            await socket.disconnect()
        await sockets.redis_client().aclose()

    run_async(scenario())


def test_claims_are_shared_through_redis_and_lapse() -> None:
    """What another process claimed counts here; a claim whose process died lapses after its TTL."""
    from django.conf import settings

    user_id = 987_654

    async def scenario() -> None:
        await sockets.release(user_id, "elsewhere")
        for n in range(settings.WS_MAX_PER_USER):
            assert await sockets.claim(user_id, f"process-a-{n}")
        assert not await sockets.claim(user_id, "process-b-0")
        client = sockets.redis_client()  # age one claim as a dead process would leave it
        await client.zadd(sockets.claims_key(user_id), {"process-a-0": 0})
        assert await sockets.claim(user_id, "process-b-0")
        await client.delete(sockets.claims_key(user_id))
        await client.aclose()

    run_async(scenario())
