"""Market tasks: training and publishing the seeded sample-dataset models after a start."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="pipelines.tasks_market.seed_market_models")
def seed_market_models(keys: list[str] | None = None) -> list[int]:
    """Train and publish the seeded models ``keys`` (default: all) that are still missing;
    returns their entry ids. Idempotent, so a task queued twice publishes each model once."""
    from builder.market_seed import seed_models

    return [entry.pk for entry in seed_models(keys)]
