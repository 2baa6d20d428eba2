"""Market tasks: training and publishing the seeded sample-dataset models after a start, and
importing uploads (bundles, torchvision weights) outside the web process."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="market.seed_market_models")
def seed_market_models(keys: list[str] | None = None) -> list[int]:
    """Train and publish the seeded models ``keys`` (default: all) that are still missing;
    returns their entry ids. Idempotent, so a task queued twice publishes each model once."""
    from domain.market.seed import seed_models

    return [entry.pk for entry in seed_models(keys)]


@shared_task(name="market.run_import")
def run_import(import_id: int) -> str:
    """Check and publish the market import ``import_id`` (``domain.market.imports``); returns
    its final status."""
    from domain.market.imports import run_import as run

    return run(import_id)
