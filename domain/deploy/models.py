"""Compression, export and deployment: models made from a trained run (pruned, quantized), their
verified exports, and the live endpoints that serve them with per-deployment API keys."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from domain.jobs.models import Job

__all__ = ["ModelKind", "ModelVariant", "ModelExport", "Deployment",
           "DeploymentKey"]


class ModelKind(models.TextChoices):
    TRAINED = "trained", "Trained"
    PRUNED = "pruned", "Pruned"
    QUANTIZED = "quantized", "Quantized (int8)"


class ModelVariant(Job):
    """A deployable model: a training run's artifact as it is, or one made from another variant by
    pruning (a new graph version plus its weights) or int8 quantization (an ONNX file). Its files
    sit in ``folder`` under ``DEPLOY_DIR``: a native bundle, or ``model.onnx``, with ``card.json``."""

    project = models.ForeignKey("builder.Project", on_delete=models.CASCADE, related_name="model_variants")
    kind = models.CharField(max_length=10, choices=ModelKind.choices)
    name = models.CharField(max_length=200)
    artifact = models.ForeignKey("builder.RunArtifact", on_delete=models.PROTECT, related_name="variants")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    graph_version = models.ForeignKey("builder.GraphVersion", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    config = models.JSONField(default=dict, blank=True)  # the prune or quantize settings
    folder = models.CharField(max_length=500, blank=True, default="")
    card = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)  # before/after figures
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["artifact"], condition=Q(kind="trained"),
                                               name="one_trained_variant_per_artifact")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.status})"


class ModelExport(Job):
    """One export of a variant in one format, verified against the PyTorch model when written."""

    variant = models.ForeignKey(ModelVariant, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=20)
    file = models.CharField(max_length=500, blank=True, default="")  # relative to DEPLOY_DIR
    verification = models.JSONField(default=dict, blank=True)  # max_abs_diff, tolerance, samples, passed
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format} export of {self.variant_id} ({self.status})"


class Deployment(Job):
    """An endpoint on the Open Inference Protocol at ``/v2/models/<name>``, as a job
    (``domain.jobs``): queued and running while its serving folder is prepared, succeeded while it
    is live (since ``ready_at``), failed, or cancelled once stopped (``stopped_at``)."""

    project = models.ForeignKey("builder.Project", on_delete=models.CASCADE, related_name="deployments")
    variant = models.ForeignKey(ModelVariant, on_delete=models.PROTECT, related_name="deployments")
    name = models.SlugField(max_length=100)
    folder = models.CharField(max_length=500, blank=True, default="")  # the serving folder, under DEPLOY_DIR
    max_body_bytes = models.PositiveIntegerField(default=8 * 1024 * 1024)
    rate_limit_per_minute = models.PositiveIntegerField(default=6000)
    request_count = models.PositiveBigIntegerField(default=0)
    error_count = models.PositiveBigIntegerField(default=0)
    latencies_ms = models.JSONField(default=list, blank=True)  # the most recent request latencies
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    ready_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["name"], condition=~Q(status="cancelled"),
                                               name="unique_live_deployment_name")]

    def __str__(self) -> str:
        return f"deployment {self.name} ({self.status})"

    @property
    def version(self) -> str:
        return str(self.variant_id)


class DeploymentKey(models.Model):
    """An API key for one deployment. Only its SHA-256 is stored; the key is shown once."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12)  # shown in lists to tell keys apart
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"key {self.prefix}… of {self.deployment_id}"
