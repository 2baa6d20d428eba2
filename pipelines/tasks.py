"""Celery tasks: they take ids and JSON, and call pure functions of the runtime."""
from __future__ import annotations

from celery import shared_task

from builder.models import Project

from .events import project_group, publish


@shared_task(name="pipelines.tasks.ping_project")
def ping_project(project_id: int, nonce: str) -> dict[str, object]:
    """A round trip through worker, broker and Channels: tell the project's sockets we are alive."""
    project = Project.objects.get(pk=project_id)
    event = {"type": "worker.pong", "nonce": nonce, "project": project.pk}
    publish(project_group(project.pk), event)
    return event

from . import tasks_datasets  # noqa: E402,F401  (registers the dataset tasks with Celery)
from . import tasks_training  # noqa: E402,F401  (registers the training tasks with Celery)
from . import tasks_deploy  # noqa: E402,F401  (registers the compress, export and deploy tasks)
