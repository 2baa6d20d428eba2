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
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from builder.run_services import can_view, run_group

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


class RunEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        if user is None or not user.is_authenticated or not await database_sync_to_async(can_view)(user, run_id):
            await self.close(code=4403)
            return
        self.outgoing = _Bucket(settings.TRAINING_WS_MAX_EVENTS_PER_S)
        self.incoming = _Bucket(CLIENT_MESSAGES_PER_S)
        self.dropped = 0
        self.group = run_group(run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "run": run_id})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not self.incoming.take():
            await self.close(code=4429)
            return
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "nonce": content.get("nonce")})
        else:
            await self.send_json({"type": "error", "message": "unknown message; send {\"type\": \"ping\"}"})

    async def project_event(self, message: dict[str, Any]) -> None:
        # pipelines.events.publish sends every group message with this handler type.
        event = message["event"]
        if not self.outgoing.take() and event.get("type") in DROPPABLE:
            self.dropped += 1
            return
        if self.dropped:
            event = {**event, "dropped_before": self.dropped}
            self.dropped = 0
        await self.send_json(event)
