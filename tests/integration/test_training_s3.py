"""A run on an S3-compatible store (moto) end to end: a worker process on "machine A" publishes
each checkpoint to the bucket and is killed with its pool; a worker on "machine B", whose runs
folder is empty, takes the requeued run, resumes from the published checkpoint and uploads the
trained weights, which the trained model is made from through B's read cache."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from domain.datasets import services as dataset_services
from domain.datasets.models import DatasetVersion
from domain.runs import workers as run_workers
from domain.runs.models import RunArtifact, RunEvent, TrainingRun
from domain.runs.services import run_folder
from tests.conftest import poll
from tests.integration.test_training import _finished, _start, own_worker_queue, trainer  # noqa: F401
from tests.s3 import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
STALE_S = 5


def test_a_run_resumes_on_another_machine_from_the_store(trainer: dict[str, Any],  # noqa: F811
                                                         own_worker_queue: tuple[str, Any],  # noqa: F811
                                                         s3_server: S3Server, s3_bucket: str, settings: Any,
                                                         tmp_path: Path) -> None:
    _queue, start_worker = own_worker_queue
    settings.TRAINING_STALE_AFTER_S = STALE_S

    def machine(name: str) -> dict[str, str]:
        return {**s3_server.env(s3_bucket), "VMB_RUNS_DIR": str(tmp_path / name / "runs"),
                "VMB_CACHE_DIR": str(tmp_path / name / "cache"), "VMB_RUN_STALE_AFTER_S": str(STALE_S)}

    # The dataset was ingested before the store was configured (the module's local trainer): publish
    # it, as an ingest on the store would have, so that the workers can install it from the bucket.
    version = DatasetVersion.objects.get(pk=trainer["body"]["dataset_version"])
    shutil.copytree(dataset_services.cache_folder(version), tmp_path / "ingest" / "cache")
    with override_settings(STORAGES=s3_server.storages(s3_bucket), CACHE_DIR=tmp_path / "web" / "cache"):
        assert dataset_services.publish_version(version, tmp_path / "ingest")

    worker_a = start_worker(**machine("a"))
    run_id = _start(trainer, epochs=3)
    client = s3_server.client()
    prefix = f"runs/{run_folder(TrainingRun.objects.get(pk=run_id)).name}"

    def pointer() -> dict[str, Any] | None:
        try:
            return json.loads(client.get_object(Bucket=s3_bucket, Key=f"{prefix}/checkpoints/latest.json")["Body"].read())
        except client.exceptions.NoSuchKey:
            return None

    poll(pointer, 150, "a first checkpoint published to the bucket")
    child = TrainingRun.objects.get(pk=run_id).worker_pid
    worker_a.kill()  # machine A goes away: the worker and its pool process
    os.kill(child, signal.SIGKILL)
    worker_a.wait(timeout=20)

    start_worker(**machine("b"))
    poll(lambda: run_workers.reap_stale_runs() or TrainingRun.objects.get(pk=run_id).attempts > 1,
         STALE_S * 6, "the reaper to requeue the run")
    run = _finished(trainer["client"], run_id, timeout=180)
    assert run["status"] == "succeeded", run["error"]
    assert run["attempts"] == 2
    messages = [e.data.get("message", "") for e in RunEvent.objects.filter(run_id=run_id, type="run.log")]
    assert any("resumed from epoch-" in m for m in messages), messages
    final = pointer()
    assert final is not None and final["checkpoint"]["epoch"] == 2
    artifact = RunArtifact.objects.get(run_id=run_id)
    weights = client.get_object(Bucket=s3_bucket, Key=f"runs/{artifact.weights_path}")["Body"].read()
    assert hashlib.sha256(weights).hexdigest() == artifact.weights_sha256
    assert (tmp_path / "b" / "cache" / artifact.weights_sha256).is_file()  # the trained model read it back
    packed = client.get_object(Bucket=s3_bucket, Key=final["checkpoint"]["name"])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        member = tar.extractfile("state.json")
        assert member is not None
        state = json.loads(member.read())
    assert [h["epoch"] for h in state["history"]] == [0, 1, 2]  # no epoch lost, none repeated
    assert not (tmp_path / "a" / "runs" / Path(artifact.weights_path)).exists()  # A never finished it
