"""Publish the graph-core templates as public market entries (idempotent)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Seed the model market with the graph-core templates, owned by the system user 'market'."

    def handle(self, *args: Any, **options: Any) -> None:
        from builder.market_services import seed_templates

        entries = seed_templates()
        for entry in entries:
            self.stdout.write(f"{entry.pk}\t{entry.title}")
        self.stdout.write(self.style.SUCCESS(f"{len(entries)} template entries in the market"))
