"""The one lifecycle every background job shares: ingests, model variants, exports, training runs
(which add attempts, heartbeats and leases) and deployments. One status vocabulary, from the
database to the browser."""
from __future__ import annotations

from django.db import models

__all__ = ["JobStatus", "TERMINAL_STATUSES", "Job"]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """Status only moves forward: queued -> running -> exactly one terminal status. Every change
    goes through ``domain.jobs.lifecycle``, as one conditional update, so a task delivered twice
    or a worker lost half-way cannot move a finished job back."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.JSONField(default=dict, blank=True)  # the last progress event, for late viewers
    error = models.JSONField(default=dict, blank=True)  # {code, message, and the field or file} when failed
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES
