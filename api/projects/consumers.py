"""``/ws/projects/<id>/``: live events of one project, for its members only."""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from api.sockets import GroupEventsConsumer
from domain.events import project_group
from domain.projects.models import ProjectMembership


class ProjectEventsConsumer(GroupEventsConsumer):
    object_kwarg = "project_id"
    hello_key = "project"

    @database_sync_to_async
    def allowed(self, user: Any, object_id: int) -> bool:
        return ProjectMembership.objects.filter(project_id=object_id, user=user).exists()

    def group_for(self, object_id: int) -> str:
        return project_group(object_id)
