"""The projects domain's Celery task: a worker round trip that the health page uses."""
from __future__ import annotations

from celery import shared_task

from domain.events import project_group, publish
from domain.projects.models import Project


@shared_task(name="projects.ping_project")
def ping_project(project_id: int, nonce: str) -> dict[str, object]:
    """A round trip through worker, broker and Channels: tell the project's sockets we are alive."""
    project = Project.objects.get(pk=project_id)
    event = {"type": "worker.pong", "nonce": nonce, "project": project.pk}
    publish(project_group(project.pk), event)
    return event

