"""WebSocket consumers. A Celery task publishes to a group; the consumer forwards to the socket."""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from builder.models import ProjectMembership
from pipelines.events import project_group


class ProjectEventsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/projects/<id>/``: live events of one project, for its members only."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        if user is None or not user.is_authenticated or not await self._is_member(user, project_id):
            await self.close(code=4403)
            return
        self.group = project_group(project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project_id})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "nonce": content.get("nonce")})
        else:
            await self.send_json({"type": "error", "message": "unknown message; send {\"type\": \"ping\"}"})

    async def project_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    @database_sync_to_async
    def _is_member(self, user: Any, project_id: int) -> bool:
        return ProjectMembership.objects.filter(project_id=project_id, user=user).exists()
