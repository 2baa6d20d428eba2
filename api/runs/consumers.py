"""``/ws/runs/<id>/``: the live events of one training run, for users allowed to see it.

Origin is checked by ``AllowedHostsOriginValidator`` (config/asgi.py) and the session by
``AuthMiddlewareStack``. Progress events beyond ``TRAINING_WS_MAX_EVENTS_PER_S`` are dropped
(the next one carries the same information); status, epoch and error events always go through.
A page opened late reads the history from ``GET /api/v1/runs/<id>/events/`` first.
"""
from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from api.sockets import GroupEventsConsumer
from domain.runs.services import can_view, run_group

DROPPABLE = frozenset({"run.progress"})
CLIENT_MESSAGES_PER_S = 5


class _Bucket:
    """A token bucket: ``rate`` per second, bursts up to ``rate``."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class RunEventsConsumer(GroupEventsConsumer):
    object_kwarg = "run_id"
    hello_key = "run"

    async def allowed(self, user: Any, object_id: int) -> bool:
        return bool(await database_sync_to_async(can_view)(user, object_id))

    def group_for(self, object_id: int) -> str:
        return run_group(object_id)

    async def accept_client(self, object_id: int) -> None:
        self.outgoing = _Bucket(settings.TRAINING_WS_MAX_EVENTS_PER_S)
        self.incoming = _Bucket(CLIENT_MESSAGES_PER_S)
        self.dropped = 0

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not self.incoming.take():
            await self.close(code=4429)
            return
        await super().receive_json(content, **kwargs)

    async def project_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if not self.outgoing.take() and event.get("type") in DROPPABLE:
            self.dropped += 1
            return
        if self.dropped:
            event = {**event, "dropped_before": self.dropped}
            self.dropped = 0
        await self.send_json(event)
