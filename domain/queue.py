"""Queue a Celery task by its registered name.

A service queues the work its task does, and the task calls the service back: naming the task
instead of importing its module keeps the import graph one-way (services never import tasks)."""
from __future__ import annotations

from typing import Any

from celery import current_app
from celery.result import AsyncResult


def enqueue(task_name: str, *args: Any, queue: str | None = None) -> AsyncResult:
    """Send ``task_name`` with JSON ``args``; ``queue`` overrides the route in ``CELERY_TASK_ROUTES``."""
    options = {"queue": queue} if queue else {}
    return current_app.send_task(task_name, args=args, **options)
