"""The one way progress leaves a task: to a Channels group, which forwards it to sockets."""
from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def publish(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured (CHANNEL_LAYERS)")
    async_to_sync(layer.group_send)(group, {"type": "project.event", "event": event})
