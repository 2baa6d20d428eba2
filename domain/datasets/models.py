"""Datasets: resumable uploads, datasets of a project, their immutable versions and samples."""
from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from domain.jobs.models import Job, JobStatus
from domain.projects.models import ProjectResource

__all__ = ["Upload", "UploadStatus", "Dataset", "DatasetKind", "DatasetVersion", "DatasetSample",
           "ImmutableDatasetVersionError"]


class UploadStatus(models.TextChoices):
    UPLOADING = "uploading", "Uploading"
    COMPLETE = "complete", "Complete"


class Upload(models.Model):
    """One tus upload: bytes arrive in chunks, staged in a local folder (the file-system default)
    or as an S3 multipart upload (object storage), then stored as one file. The offset and the
    staging state live in this row, so any web replica takes any chunk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=255)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=UploadStatus.choices, default=UploadStatus.UPLOADING)
    storage_name = models.CharField(max_length=500, blank=True, default="")
    # With object storage (S3, MinIO) the chunks go to an S3 multipart upload, and everything a
    # replica needs to take the next chunk is here (domain/datasets/multipart.py): the multipart
    # upload's id, the parts sent ({"n", "etag", "size"}) and the chunks too small to be a part
    # yet, kept as objects of their own ({"key", "size"}) until enough bytes make one.
    multipart_id = models.CharField(max_length=1024, blank=True, default="")
    parts = models.JSONField(default=list, blank=True)
    pending = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.offset}/{self.length})"


class DatasetKind(models.TextChoices):
    IMAGE = "image", "Images"
    TABLE = "table", "Table"
    TEXT = "text", "Text"
    CT_DICOM = "ct_dicom", "CT (DICOM)"
    CT_NIFTI = "ct_nifti", "CT (NIfTI)"
    SEGMENTATION = "segmentation", "Images with masks"


class Dataset(ProjectResource):
    kind = models.CharField(max_length=20, choices=DatasetKind.choices)
    # Applied by the training data loader; versions stay immutable, so this lives here.
    augmentation = models.JSONField(default=dict, blank=True)


class ImmutableDatasetVersionError(Exception):
    pass


class DatasetVersion(Job):
    """One ingest of one source with fixed options, as a job (``domain.jobs``): succeeded means
    usable (``has_warnings`` when files were skipped or series warned). Only the ingest task changes it, through
    ``domain.datasets.services``; once finished it never changes again."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    upload = models.ForeignKey(Upload, on_delete=models.SET_NULL, null=True, blank=True, related_name="versions")
    sample_source = models.CharField(max_length=40, blank=True, default="")  # a built-in sample dataset
    source_name = models.CharField(max_length=255, blank=True, default="")
    options = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=list, blank=True)  # [{file, code, reason}]
    skipped_total = models.PositiveIntegerField(default=0)
    task = models.CharField(max_length=20, blank=True, default="")  # classification / regression / segmentation
    classes = models.JSONField(default=list, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    recipe = models.JSONField(default=dict, blank=True)
    sample_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="unique_dataset_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"

    @property
    def is_usable(self) -> bool:
        return self.status == JobStatus.SUCCEEDED

    @property
    def has_warnings(self) -> bool:
        """Ingested, but some files were skipped (``skipped`` says which and why) or some series
        were not as expected (``stats.series[].warnings``)."""
        return self.status == JobStatus.SUCCEEDED and (
            self.skipped_total > 0 or bool((self.stats or {}).get("series_warnings")))

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ImmutableDatasetVersionError("dataset versions are immutable; ingest a new version instead")
        super().save(*args, **kwargs)


class DatasetSample(models.Model):
    """One row of a version's cache: what the samples API pages through."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="samples")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=300)
    label = models.CharField(max_length=200, blank=True, default="")
    target = models.FloatField(default=0.0)
    group = models.CharField(max_length=200, blank=True, default="")
    split = models.CharField(max_length=5)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["version", "index"], name="unique_dataset_sample_index")]
        indexes = [models.Index(fields=["version", "split", "label"], name="dataset_sample_filter")]

    def __str__(self) -> str:
        return f"{self.version} #{self.index}"
