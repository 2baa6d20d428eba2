"""Checkpoints on an object store (pipelines/training/checkpoint_store.py) against a real
S3-compatible server (moto): the object first, then the pointer, so a half-written checkpoint is
never picked up, and every object is read back through the content-hash cache."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import torch

from pipelines.storage.cache import ContentCache, DigestMismatch
from pipelines.training import checkpoint, checkpoint_store
from tests.s3 import S3Server

PREFIX = "runs/run-1/checkpoints"


@pytest.fixture
def store(s3_server: S3Server, s3_bucket: str) -> Any:
    from storages.backends.s3 import S3Storage

    return S3Storage(**s3_server.storages(s3_bucket)["default"]["OPTIONS"])


def _fetcher(store: Any, folder: Path) -> checkpoint_store.Fetch:
    cache = ContentCache(folder, max_bytes=10**9)
    return lambda name, sha256: cache.fetch(sha256, lambda: store.open(name, "rb"))


def _save(root: Path, epoch: int, *, best: bool) -> dict[str, torch.Tensor]:
    weights = {"w": torch.full((4, 3), float(epoch)), "b": torch.arange(3.0) + epoch}
    checkpoint.save(root, epoch, weights, {"0.exp_avg": torch.ones(3) * epoch}, {"epoch": epoch, "step": 10 * epoch},
                    best=best)
    return weights


def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def test_a_checkpoint_round_trips_through_s3_with_its_best(tmp_path: Path, store: Any, s3_server: S3Server,
                                                           s3_bucket: str) -> None:
    local = tmp_path / "worker-a"
    best_weights = _save(local, 0, best=True)
    first = checkpoint_store.publish(local, store, PREFIX)
    latest_weights = _save(local, 1, best=False)
    second = checkpoint_store.publish(local, store, PREFIX)
    latest_weights = _save(local, 2, best=False)
    third = checkpoint_store.publish(local, store, PREFIX)
    assert first and second and third
    assert third["best"] == first["checkpoint"]  # epoch 0 stays the best, under its first object
    # Epoch 1's object went once epoch 2's pointer was published; the best's object stays.
    assert _keys(s3_server, s3_bucket) == sorted([f"{PREFIX}/latest.json", first["checkpoint"]["name"],
                                                  third["checkpoint"]["name"]])
    assert checkpoint_store.publish(local, store, PREFIX) is None  # nothing new: nothing written

    elsewhere = tmp_path / "worker-b"  # another machine: an empty folder and the store
    assert checkpoint_store.restore(store, PREFIX, elsewhere, _fetcher(store, tmp_path / "cache")) == 2
    found = checkpoint.latest(elsewhere)
    assert found is not None and found.name == "epoch-0002"
    restored = checkpoint.load(found)
    assert all(torch.equal(restored.weights[k], latest_weights[k]) for k in latest_weights)
    assert torch.equal(restored.optimizer_tensors["0.exp_avg"], torch.ones(3) * 2)
    assert restored.state == {"epoch": 2, "step": 20}
    best = checkpoint.load(elsewhere / checkpoint.BEST)
    assert all(torch.equal(best.weights[k], best_weights[k]) for k in best_weights)


def test_a_half_written_checkpoint_is_never_picked_up(tmp_path: Path, store: Any, s3_server: S3Server,
                                                      s3_bucket: str) -> None:
    local = tmp_path / "worker-a"
    _save(local, 0, best=True)
    checkpoint_store.publish(local, store, PREFIX)
    # A worker killed between the two writes: epoch 1's object is in the store, its pointer is not.
    _save(local, 1, best=True)
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        for name in checkpoint_store.FILES:
            tar.add(local / "epoch-0001" / name, arcname=name)
    s3_server.client().put_object(Bucket=s3_bucket, Key=f"{PREFIX}/epoch-0001-deadbeef0000.tar",
                                  Body=packed.getvalue())
    elsewhere = tmp_path / "worker-b"
    assert checkpoint_store.restore(store, PREFIX, elsewhere, _fetcher(store, tmp_path / "cache")) == 0
    found = checkpoint.latest(elsewhere)
    assert found is not None and checkpoint.load(found).state["epoch"] == 0


def test_a_corrupt_object_is_refused_and_nothing_installed(tmp_path: Path, store: Any, s3_server: S3Server,
                                                           s3_bucket: str) -> None:
    local = tmp_path / "worker-a"
    _save(local, 0, best=True)
    pointer = checkpoint_store.publish(local, store, PREFIX)
    assert pointer is not None
    name = pointer["checkpoint"]["name"]
    body = s3_server.client().get_object(Bucket=s3_bucket, Key=name)["Body"].read()
    s3_server.client().put_object(Bucket=s3_bucket, Key=name, Body=body[:-1] + bytes([body[-1] ^ 1]))
    elsewhere = tmp_path / "worker-b"
    with pytest.raises(DigestMismatch):
        checkpoint_store.restore(store, PREFIX, elsewhere, _fetcher(store, tmp_path / "cache"))
    assert checkpoint.latest(elsewhere) is None
    assert not (tmp_path / "cache" / pointer["checkpoint"]["sha256"]).exists()


def test_nothing_published_restores_nothing(tmp_path: Path, store: Any) -> None:
    assert checkpoint_store.read_pointer(store, PREFIX) is None
    assert checkpoint_store.restore(store, PREFIX, tmp_path / "w", _fetcher(store, tmp_path / "cache")) is None
    assert json.loads(json.dumps(checkpoint_store.publish(tmp_path / "empty", store, PREFIX))) is None
