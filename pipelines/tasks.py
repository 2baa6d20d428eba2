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

# Importing the task modules registers their tasks with Celery.
from . import (  # noqa: E402,F401
    tasks_datasets,  # ingest
    tasks_deploy,  # compress, export and deploy
    tasks_market,  # the seeded market's trained models
    tasks_training,  # training runs
)
