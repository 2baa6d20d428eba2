"""Queue a Celery task by its registered name.

A service queues the work its task does, and the task calls the service back: naming the task
instead of importing its module keeps the import graph one-way (services never import tasks)."""
from __future__ import annotations

from typing import Any

from celery import current_app
from celery.result import AsyncResult


def waiting(queue: str) -> int:
    """How many messages wait in ``queue`` on the broker, not yet delivered to a worker (0 for a
    queue the broker does not know, as after a restart that lost it). Raises when it cannot be reached."""
    with current_app.connection_for_read() as connection:
        try:
            return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except connection.channel_errors:  # NOT_FOUND: nothing declared it since the broker started
            return 0


def enqueue(task_name: str, *args: Any, queue: str | None = None) -> AsyncResult:
    """Send ``task_name`` with JSON ``args``; ``queue`` overrides the route in ``CELERY_TASK_ROUTES``."""
    options = {"queue": queue} if queue else {}
    return current_app.send_task(task_name, args=args, **options)
