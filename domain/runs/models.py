"""Training runs: a graph version trained on a dataset version, its stored events for late
viewers, the trained model's artifact, the workers that registered their devices, and the
device leases that keep two trainings off one GPU."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from domain.jobs.models import Job

__all__ = ["TrainingRun", "RunEvent", "RunArtifact", "WorkerNode", "DeviceLease"]


class TrainingRun(Job):
    """One training of one graph version on one dataset version: a job (``domain.jobs``) with
    attempts, heartbeats and device leases. queued -> running (again after a lost worker) ->
    exactly one of the terminal statuses."""

    project = models.ForeignKey("builder.Project", on_delete=models.CASCADE, related_name="training_runs")
    graph_version = models.ForeignKey("builder.GraphVersion", on_delete=models.PROTECT, related_name="training_runs")
    dataset_version = models.ForeignKey("builder.DatasetVersion", on_delete=models.PROTECT,
                                        related_name="training_runs")
    resumed_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="resumptions")
    config = models.JSONField(default=dict)  # the validated RunConfig
    plan = models.JSONField(default=dict, blank=True)  # what validation found: memory, resize, classes
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    worker_pid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    epoch = models.IntegerField(default=-1)  # last finished epoch
    step = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)  # last validation metrics
    best_metrics = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True)
    precision = models.JSONField(default=dict, blank=True)  # the precision report
    # A multi-node run's nodes in its current attempt: [{node, host, address, pid, devices}].
    nodes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="training_run_liveness")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class RunEvent(models.Model):
    """Every event a run published, in order, so a page opened late can replay them."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "id"], name="run_event_order")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.type}"


class RunArtifact(models.Model):
    """The trained model: enough to serve it without guessing."""

    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="artifact")
    graph_version = models.ForeignKey("builder.GraphVersion", on_delete=models.PROTECT, related_name="+")
    weights_path = models.CharField(max_length=500)  # safetensors, relative to TRAINING_RUNS_DIR
    weights_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)  # best validation and test metrics
    config = models.JSONField(default=dict)
    preprocessing = models.JSONField(default=dict)  # the dataset's recipe plus the resize the run added
    classes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"artifact of run {self.run_id}"


class WorkerNode(models.Model):
    """A Celery worker that registered its devices; refreshed by heartbeats."""

    name = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list)
    devices = models.JSONField(default=list)  # [{kind, count, memory_bytes, name}]
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeviceLease(models.Model):
    """One device held by one training: the unique (host, device) row is the lock, so two runs
    never share a GPU whatever the worker concurrency. Taken before a run starts, refreshed with
    its heartbeat, deleted when it ends; a stale one (silent holder, dead process, finished run)
    is taken over or removed by the reaper."""

    host = models.CharField(max_length=200)
    device = models.CharField(max_length=100)  # "cuda:<uuid>", "xpu:1", "cpu:0" (see devices.device_slots)
    index = models.PositiveIntegerField()  # the torch device index in the holder's process
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="device_leases")
    pid = models.IntegerField()
    taken_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    class Meta:
        ordering = ["host", "device"]
        constraints = [models.UniqueConstraint(fields=["host", "device"], name="one_training_per_device")]

    def __str__(self) -> str:
        return f"{self.host}/{self.device} -> run {self.run_id}"
