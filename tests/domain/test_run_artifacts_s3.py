"""A run's checkpoints and trained weights through the storage layer (domain/runs/artifacts.py):
on an S3-compatible server (moto) a worker publishes each checkpoint, a worker on another machine
(an empty runs folder) resumes from it, and the trained model is made from the weights read back
from the store through the content-hash cache; in the local default nothing leaves the folder."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from domain import storage
from domain.runs import artifacts
from domain.runs.services import run_folder
from pipelines.training import checkpoint, checkpoint_store
from tests.deploy_factories import make_artifact
from tests.s3 import S3Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_s3(settings: Any, tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> str:
    settings.STORAGES = s3_server.storages(s3_bucket)
    settings.CACHE_DIR = tmp_path / "cache"
    settings.TRAINING_RUNS_DIR = tmp_path / "machine-a" / "runs"
    settings.DEPLOY_DIR = tmp_path / "machine-a" / "models"
    return s3_bucket


def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))


def _epoch(folder: Path, epoch: int, *, best: bool) -> None:
    checkpoint.save(folder, epoch, {"w": torch.full((2, 2), float(epoch))}, {}, {"epoch": epoch}, best=best)


def test_checkpoints_publish_after_each_epoch_and_resume_on_another_machine(
        on_s3: str, settings: Any, tmp_path: Path, alice: Any, s3_server: S3Server) -> None:
    run = make_artifact(alice).run
    folder = run_folder(run) / "checkpoints"
    events: list[dict[str, Any]] = []
    emit = artifacts.publishing(run, folder, events.append)
    _epoch(folder, 0, best=True)
    emit({"type": "run.epoch", "epoch": 0})
    _epoch(folder, 1, best=False)
    emit({"type": "run.epoch", "epoch": 1})
    emit({"type": "run.progress", "epoch": 2})  # not an epoch's end: nothing published
    assert [e["type"] for e in events] == ["run.epoch", "run.epoch", "run.progress"]  # all forwarded, no warning
    prefix = artifacts.checkpoint_prefix(run)
    pointer = checkpoint_store.read_pointer(storage.store(), prefix)
    assert pointer is not None and pointer["checkpoint"]["epoch"] == 1 and pointer["best"]["epoch"] == 0
    assert f"{prefix}/latest.json" in _keys(s3_server, on_s3)

    settings.TRAINING_RUNS_DIR = tmp_path / "machine-b" / "runs"  # another machine: nothing local
    elsewhere = run_folder(run) / "checkpoints"
    assert checkpoint.latest(elsewhere) is None
    assert artifacts.has_checkpoint(run)  # what resume_run asks: the store has one
    assert artifacts.restore_checkpoint(run, elsewhere) == 1
    restored = checkpoint.latest(elsewhere)
    assert restored is not None and torch.equal(checkpoint.load(restored).weights["w"], torch.full((2, 2), 1.0))
    assert torch.equal(checkpoint.load(elsewhere / checkpoint.BEST).weights["w"], torch.zeros(2, 2))
    assert artifacts.restore_checkpoint(run, elsewhere) is None  # as recent as the store's: left alone


def test_a_failed_publish_is_a_warning_and_training_goes_on(on_s3: str, alice: Any, s3_server: S3Server) -> None:
    run = make_artifact(alice).run
    folder = run_folder(run) / "checkpoints"
    events: list[dict[str, Any]] = []
    emit = artifacts.publishing(run, folder, events.append)
    _epoch(folder, 0, best=True)
    s3_server.client().delete_bucket(Bucket=on_s3)  # the store refuses every write from now on
    emit({"type": "run.epoch", "epoch": 0})
    assert [e["type"] for e in events] == ["run.log", "run.epoch"]
    assert events[0]["level"] == "warning" and "epoch 0" in events[0]["message"]


def test_trained_weights_are_read_back_from_the_store_on_another_machine(
        on_s3: str, settings: Any, tmp_path: Path, alice: Any, api: Any) -> None:
    artifact = make_artifact(alice)  # its weights written on machine A, as the training task does
    local = Path(settings.TRAINING_RUNS_DIR) / artifact.weights_path
    assert artifacts.store_weights(local) == artifact.weights_path
    shutil.rmtree(tmp_path / "machine-a")
    settings.TRAINING_RUNS_DIR = tmp_path / "machine-b" / "runs"
    settings.DEPLOY_DIR = tmp_path / "machine-b" / "models"
    response = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert response.status_code == 201, response.content
    assert (tmp_path / "cache" / artifact.weights_sha256).is_file()  # read through the cache, by hash


def test_weights_missing_from_the_store_are_a_400_naming_the_run(on_s3: str, alice: Any, api: Any) -> None:
    artifact = make_artifact(alice)  # never uploaded
    response = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert response.status_code == 400
    assert f"run {artifact.run_id}" in response.content.decode()


def test_the_local_default_keeps_everything_in_the_runs_folder(settings: Any, tmp_path: Path, alice: Any) -> None:
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    artifact = make_artifact(alice)
    run = artifact.run
    emit = artifacts.publishing(run, run_folder(run) / "checkpoints", print)
    assert emit is print  # nothing wraps the events
    local = Path(settings.TRAINING_RUNS_DIR) / artifact.weights_path
    assert artifacts.store_weights(local) == artifact.weights_path
    assert artifacts.weights_file(artifact.weights_path, artifact.weights_sha256) == local
    assert artifacts.restore_checkpoint(run, run_folder(run) / "checkpoints") is None
    assert not artifacts.has_checkpoint(run)


def test_a_fine_tuning_runs_starting_weights_are_read_again_on_the_worker(
        on_s3: str, settings: Any, tmp_path: Path, alice: Any, api: Any) -> None:
    from domain.runs.finetune import resolve_init_weights
    from pipelines.training.config import InitWeights, RunConfig
    from pipelines.training.engine import TrainingError

    artifact = make_artifact(alice)
    artifacts.store_weights(Path(settings.TRAINING_RUNS_DIR) / artifact.weights_path)
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()  # published to the store
    run = artifact.run
    queued = resolve_init_weights(alice, run.project, InitWeights(model=model["id"]))  # as the web process does
    config = RunConfig.model_validate({"epochs": 1, "init_weights": queued.model_dump()})
    assert artifacts.local_init_weights(run, config) is config  # the file is here: nothing to do

    shutil.rmtree(tmp_path / "machine-a")  # a worker on machine B: the web process's path is not there
    settings.TRAINING_RUNS_DIR = tmp_path / "machine-b" / "runs"
    settings.DEPLOY_DIR = tmp_path / "machine-b" / "models"
    local = artifacts.local_init_weights(run, config).init_weights
    assert local is not None and Path(local.path).is_relative_to(tmp_path / "machine-b")
    assert local.sha256 == queued.sha256 and Path(local.path).is_file()

    changed = config.model_copy(update={"init_weights": queued.model_copy(update={"sha256": "0" * 64})})
    with pytest.raises(TrainingError, match="changed since the run was queued"):
        artifacts.local_init_weights(run, changed)
