"""The domain's side of the serving app (``serving/``), which has no database: the index of live
deployments and key digests it reads (``pipelines.serving.keyindex``), and the request counts it
pushes to Redis (``pipelines.serving.counts``), folded here into the deployments' counters.

``publish`` rewrites the index from the database after every change that matters to serving
(deployment created, ready, failed or undeployed; key created or revoked): the ORM signals below
and the services' bulk updates call it once their transaction commits, so a revoked key is refused
from the serving app's next request on. ``deploy.sync_serving`` (Celery beat) publishes and folds
again every ``SERVING_SYNC_S`` seconds, which repairs an index a crash left stale.
"""
from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.signals import post_delete, post_save

from domain.deploy import store as deploy_store
from domain.deploy.models import Deployment, DeploymentKey
from domain.jobs.models import JobStatus
from pipelines.serving import counts
from pipelines.serving.keyindex import ServedDeployment, write_index

log = logging.getLogger(__name__)
LOCK_FILE = ".serving-index.lock"


def publish() -> Path:
    """Write the serving index from the committed database; returns its path. Writers take a file
    lock and read the database inside it, so the last index written is never older than one read
    before it."""
    folder = Path(settings.DEPLOY_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        live_keys = DeploymentKey.objects.filter(revoked_at__isnull=True).only("deployment_id", "digest")
        rows = (Deployment.objects.exclude(status=JobStatus.CANCELLED)
                .prefetch_related(Prefetch("keys", queryset=live_keys, to_attr="live_keys")))
        path = write_index(folder, [
            ServedDeployment(id=row.pk, name=row.name, version=row.version, status=row.status, folder=row.folder,
                             max_body_bytes=row.max_body_bytes, rate_limit_per_minute=row.rate_limit_per_minute,
                             keys=frozenset(key.digest for key in row.live_keys))
            for row in rows])
        deploy_store.publish_index(path)  # with a shared store, where serving processes elsewhere read it
        return path


def publish_on_commit() -> None:
    """``publish`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(_publish_logged)


def _publish_logged() -> None:
    try:
        publish()
    except Exception:  # noqa: BLE001  (the change itself is committed; deploy.sync_serving retries)
        log.exception("could not write the serving index under %s", settings.DEPLOY_DIR)


def _changed(sender: Any, **kwargs: Any) -> None:
    publish_on_commit()


for _model in (Deployment, DeploymentKey):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"vmb-serving-index-save-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"vmb-serving-index-delete-{_model.__name__}")


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _client


def fold_counts() -> int:
    """Add the request counts serving processes pushed to Redis to the deployments' counters;
    returns how many requests were folded. A Redis or database error is logged, never raised: the
    counts stay in Redis for the next fold (or, once read, are lost rather than failing a page)."""
    from domain.deploy.services import record_requests

    prefix = settings.SERVING_REDIS_PREFIX
    folded = 0
    try:
        client = _redis()
        for raw_id in client.smembers(counts.pending_key(prefix)):
            deployment_id = int(raw_id)
            requests, errors, latencies = client.eval(  # type: ignore[misc]
                counts.FOLD_SCRIPT, 3, counts.counts_key(prefix, deployment_id),
                counts.latencies_key(prefix, deployment_id), counts.pending_key(prefix), deployment_id)
            if int(requests):
                record_requests(deployment_id, int(requests), int(errors), [float(v) for v in latencies])
                folded += int(requests)
    except Exception:  # noqa: BLE001  (counts must never fail the page that shows them)
        log.exception("could not fold the serving counts")
    return folded
