"""Seed the model market: the graph-core templates, and the models trained on the sample datasets."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = ("Seed the model market with the graph-core templates, owned by the system user 'market'; "
            "with --models also train and publish the sample-dataset models here, or with --queue-models "
            "leave that to a worker. Idempotent: what is already seeded is left as it is.")

    def add_arguments(self, parser: CommandParser) -> None:
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--models", action="store_true",
                         help="Train the missing sample-dataset models here (seconds each) and publish them.")
        how.add_argument("--queue-models", action="store_true",
                         help="Queue the training of the missing sample-dataset models to a worker; returns at once.")
        parser.add_argument("--workdir", type=Path, default=None,
                            help="With --models: keep each model's sample data and cache here (default: temporary).")

    def handle(self, *args: Any, **options: Any) -> None:
        from domain.market.seed import missing_models, seed_models, seed_templates

        entries = seed_templates()
        self.stdout.write(self.style.SUCCESS(f"{len(entries)} template entries in the market"))
        if not (options["models"] or options["queue_models"]):
            return
        missing = missing_models()
        if not missing:
            self.stdout.write("the trained sample-dataset models are in the market")
            return
        if options["queue_models"]:
            self._queue(missing)
            return
        for entry in seed_models(missing, workdir=options["workdir"]):
            self.stdout.write(f"{entry.pk}\t{entry.title}\ttest accuracy {entry.latest_accuracy}")
        self.stdout.write(self.style.SUCCESS(f"{len(missing)} trained models published"))

    def _queue(self, missing: list[str]) -> None:
        from domain.market.tasks import seed_market_models

        try:
            seed_market_models.delay(missing)
        except Exception as exc:  # noqa: BLE001  (kombu's connection errors): start-up goes on without them
            self.stderr.write(f"could not queue the sample-dataset models ({exc}); "
                              "run `manage.py seed_market --models` later")
            return
        self.stdout.write(f"queued the training of {', '.join(missing)} to a worker")
