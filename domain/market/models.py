"""The model market: shared entries (a trained model or a template graph), their immutable
versions, stars, and forks into projects."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from domain.jobs.models import Job
from domain.projects.models import ImmutableVersionError

__all__ = ["Visibility", "EntryKind", "MarketEntry", "MarketEntryVersion", "MarketStar", "MarketFork",
           "ImportKind", "MarketImport"]


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    ORGANIZATION = "organization", "Organization (project members)"
    PUBLIC = "public", "Public"


class EntryKind(models.TextChoices):
    MODEL = "model", "Trained model"
    TEMPLATE = "template", "Template (graph only)"


class MarketEntry(models.Model):
    """One shared model or template. The ``latest_*`` fields copy the newest version's figures so
    lists can be filtered and sorted without joins; the counters are kept by the services."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    task = models.CharField(max_length=40, blank=True, default="")
    modality = models.CharField(max_length=40, blank=True, default="")
    classes = models.JSONField(default=list, blank=True)
    input_contract = models.JSONField(default=dict, blank=True)  # {inputs, outputs, preprocessing}
    licence = models.CharField(max_length=100, blank=True, default="")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="market_entries")
    # Organization visibility means: the members of this project.
    project = models.ForeignKey("builder.Project", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="market_entries")
    visibility = models.CharField(max_length=12, choices=Visibility.choices, default=Visibility.PRIVATE)
    stars = models.PositiveIntegerField(default=0)
    forks = models.PositiveIntegerField(default=0)
    downloads = models.PositiveIntegerField(default=0)
    latest_params = models.BigIntegerField(default=0)
    latest_flops = models.BigIntegerField(default=0)
    latest_accuracy = models.FloatField(null=True, blank=True)
    seed_key = models.CharField(max_length=100, blank=True, default="")  # set on seeded entries
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["visibility", "task", "modality"], name="market_entry_browse")]

    def __str__(self) -> str:
        return self.title


class MarketEntryVersion(models.Model):
    """One published state of an entry. Never changed after it is written; weights (absent for a
    template) sit under the market folder at ``weights_path`` with their SHA-256."""

    entry = models.ForeignKey(MarketEntry, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    card = models.JSONField(default=dict)
    document = models.JSONField()
    weights_path = models.CharField(max_length=500, blank=True, default="")
    weights_sha256 = models.CharField(max_length=64, blank=True, default="")
    metrics = models.JSONField(default=dict, blank=True)
    metrics_dataset = models.JSONField(default=dict, blank=True)  # what the metrics were measured on
    params = models.BigIntegerField(default=0)
    flops = models.BigIntegerField(default=0)
    registry_version = models.PositiveIntegerField()
    source_artifact = models.ForeignKey("builder.RunArtifact", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    source_graph_version = models.ForeignKey("builder.GraphVersion", on_delete=models.SET_NULL, null=True,
                                             blank=True, related_name="+")
    changelog = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["entry", "number"], name="unique_market_version_number")]

    def __str__(self) -> str:
        return f"{self.entry} v{self.number}"

    @property
    def has_weights(self) -> bool:
        return bool(self.weights_path)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableVersionError("market versions are immutable; publish a new version instead")
        super().save(*args, **kwargs)


class MarketStar(models.Model):
    entry = models.ForeignKey(MarketEntry, on_delete=models.CASCADE, related_name="star_set")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "user"], name="one_star_per_user")]


class MarketFork(models.Model):
    """A market version copied into a project: its graph version, and (for a trained model) the
    weights a fine-tuning run starts from, copied under the market folder."""

    version = models.ForeignKey(MarketEntryVersion, on_delete=models.PROTECT, related_name="fork_set")
    project = models.ForeignKey("builder.Project", on_delete=models.CASCADE, related_name="market_forks")
    graph_version = models.ForeignKey("builder.GraphVersion", on_delete=models.CASCADE, related_name="market_forks")
    weights_path = models.CharField(max_length=500, blank=True, default="")
    weights_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"fork of {self.version} into {self.project}"


class ImportKind(models.TextChoices):
    BUNDLE = "bundle", "Market bundle"
    TORCHVISION = "torchvision", "Torchvision weights"


class MarketImport(Job):
    """One upload being imported as a new market entry, as a job (``domain.jobs``): the request
    stores the file under the market folder (``upload``) and answers with this job; a worker checks
    and publishes it, and the person polls ``status`` and ``progress`` (``{fraction, stage}``)
    until it has succeeded (with ``entry`` and ``version``) or failed (with ``error``:
    ``{code, field, message}``)."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    filename = models.CharField(max_length=255, blank=True, default="")
    upload = models.CharField(max_length=500, blank=True, default="")  # relative to MARKET_DIR; gone when done
    options = models.JSONField(default=dict, blank=True)  # the request's fields: visibility, architecture, ...
    params = models.BigIntegerField(default=0)  # counted from the graph before anything was built
    project = models.ForeignKey("builder.Project", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    entry = models.ForeignKey(MarketEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    version = models.ForeignKey(MarketEntryVersion, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="market_imports")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.status})"

    @property
    def error_or_none(self) -> dict[str, Any] | None:
        return self.error or None
