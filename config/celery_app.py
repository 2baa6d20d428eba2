"""The Celery app: reads the CELERY_* Django settings and finds each domain's ``tasks`` module."""
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("vmb")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each domain package keeps its tasks beside its services; services queue them by name (domain.queue).
app.autodiscover_tasks(["domain.projects", "domain.datasets", "domain.runs", "domain.deploy", "domain.market"])


@signals.worker_init.connect(weak=False, dispatch_uid="vmb-metrics-worker-init")
def count_tasks(**_: object) -> None:
    """Task metrics (docs/metrics.md), connected in the worker before its pool forks. Imported
    here, not above: this module loads with the settings package, before they name the metrics folder."""
    from domain.metrics import connect_task_signals

    connect_task_signals()
