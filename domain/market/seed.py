"""The seeded market: the graph-core templates, and the models the project trains itself on its
sample datasets (``pipelines/market/seeded.py``), all public and owned by the system user.
Both are idempotent: a start that finds everything seeded costs a few queries and trains nothing.
The ``seed_market`` command and the ``seed_market_models`` task call these."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from domain.market.modality import normalise as normalise_modality
from domain.market.models import EntryKind, MarketEntry, Visibility
from domain.market.services import SYSTEM_USERNAME, add_version, publish_document

if TYPE_CHECKING:
    from pipelines.market.seeded import TrainedModel

log = logging.getLogger(__name__)


def system_user() -> AbstractBaseUser:
    user, created = get_user_model().objects.get_or_create(username=SYSTEM_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def seed_templates() -> list[MarketEntry]:
    """Publish every graph-core template as a public template entry owned by the system user.
    Idempotent: a template already seeded is left as it is."""
    from builder.graph.templates import get_template, list_templates

    owner = system_user()
    seeded = []
    for summary in list_templates():
        key = f"template:{summary['id']}"
        entry = MarketEntry.objects.filter(seed_key=key, author=owner).first()
        if entry is None:
            with transaction.atomic():  # the lock and re-check of seed_models: two seeders, one entry
                get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
                entry = MarketEntry.objects.filter(seed_key=key, author=owner).first()
                if entry is None:
                    entry = MarketEntry.objects.create(
                        author=owner, kind=EntryKind.TEMPLATE, visibility=Visibility.PUBLIC, seed_key=key,
                        title=summary["name"], description=summary["description"], task=summary["task"],
                        modality=normalise_modality(summary["modality"]), licence="project templates")
                    publish_document(owner, entry, get_template(summary["id"]), "seeded from the graph core")
        seeded.append(entry)
    return seeded


def model_seed_key(key: str) -> str:
    return f"model:{key}"


def missing_models() -> list[str]:
    """Keys of the seeded models that have no market entry yet (one query)."""
    from pipelines.market.seeded import SEED_MODELS

    present = set(MarketEntry.objects.filter(author__username=SYSTEM_USERNAME, seed_key__startswith="model:")
                  .values_list("seed_key", flat=True))
    return [spec.key for spec in SEED_MODELS if model_seed_key(spec.key) not in present]


def seed_models(keys: Sequence[str] | None = None, workdir: Path | None = None) -> list[MarketEntry]:
    """Train and publish each seeded model (``keys``, default all) that is not in the market yet;
    returns the entries of all of them. ``workdir`` keeps each model's data under ``<key>/``
    (default: temporary folders). Training runs outside any transaction; publishing holds a lock
    on the system user, so two seeders at once publish each model once."""
    from pipelines.market.seeded import SEED_MODELS, seed_model, train_seed_model

    owner = system_user()
    specs = [seed_model(key) for key in keys] if keys is not None else list(SEED_MODELS)
    entries = []
    for spec in specs:
        key = model_seed_key(spec.key)
        entry = MarketEntry.objects.filter(seed_key=key, author=owner).first()
        if entry is None:
            trained = train_seed_model(spec, workdir / spec.key if workdir is not None else None)
            log.info("trained seeded model %s in %.1f s: test accuracy %s", spec.key, trained.seconds,
                     trained.metrics["test"].get("accuracy"))
            with transaction.atomic():
                get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
                entry = MarketEntry.objects.filter(seed_key=key, author=owner).first()
                if entry is None:
                    entry = _publish_trained(owner, trained)
        entries.append(entry)
    return entries


def _publish_trained(owner: AbstractBaseUser, trained: TrainedModel) -> MarketEntry:
    from safetensors.torch import save as st_save

    from pipelines.export.package import make_card

    spec = trained.spec
    card = make_card(trained.document, name=spec.title, task="classification", classes=trained.classes,
                     preprocessing=trained.preprocessing, metrics=trained.metrics, dataset=trained.dataset,
                     training_config=trained.config,
                     lineage=[{"kind": "seeded", "model": spec.key, "sample": spec.sample}])
    card.update({"title": spec.title, "description": spec.description, "modality": normalise_modality(spec.modality),
                 "licence": spec.licence, "author": SYSTEM_USERNAME, "preprocessing": trained.preprocessing,
                 "training_seconds": trained.seconds})
    entry = MarketEntry.objects.create(
        author=owner, kind=EntryKind.MODEL, visibility=Visibility.PUBLIC, seed_key=model_seed_key(spec.key),
        title=spec.title, description=spec.description, task="classification",
        modality=normalise_modality(spec.modality),
        licence=spec.licence, classes=trained.classes)
    add_version(owner, entry, document=trained.document, card=card, weights=st_save(trained.weights),
                metrics=trained.metrics, metrics_dataset=trained.dataset,
                changelog=f"trained by seed_market on the {spec.sample} sample")
    entry.refresh_from_db()
    return entry
