"""Market weights on a shared object store (domain/market/services.py through domain/storage.py),
against an S3-compatible server (moto): a run published from one machine is forked on another
whose folders are empty; both read the weights back from the store by their SHA-256."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load as st_load

from domain.market.models import MarketFork
from domain.projects import services
from domain.runs import artifacts
from tests.deploy_factories import make_artifact
from tests.s3 import S3Server

pytestmark = pytest.mark.django_db


def _machine(settings: Any, folder: Path) -> None:
    settings.CACHE_DIR = folder / "cache"
    settings.TRAINING_RUNS_DIR = folder / "runs"
    settings.MARKET_DIR = folder / "market"


def test_a_published_run_is_forked_on_another_machine(settings: Any, tmp_path: Path, s3_server: S3Server,
                                                      s3_bucket: str, alice: Any, bob: Any, api: Any,
                                                      client_for: Any) -> None:
    settings.STORAGES = s3_server.storages(s3_bucket)
    _machine(settings, tmp_path / "a")
    artifact = make_artifact(alice, "concat")
    trained = (tmp_path / "a" / "runs" / artifact.weights_path).read_bytes()
    artifacts.store_weights(tmp_path / "a" / "runs" / artifact.weights_path)
    _machine(settings, tmp_path / "b")  # publishing reads the run's weights from the store
    response = api.post("/api/v1/market/entries/", {"run": artifact.run_id, "title": "Digits",
                                                    "visibility": "public"}, format="json")
    assert response.status_code == 201, response.content
    version_id = response.json()["versions"][0]["id"]

    _machine(settings, tmp_path / "c")  # forking reads the market's copy from the store
    project = services.create_project(bob, name="elsewhere")
    forked = client_for(bob).post(f"/api/v1/market/versions/{version_id}/fork/", {"project": project.pk},
                                  format="json")
    assert forked.status_code == 201, forked.content
    record = MarketFork.objects.get(pk=forked.json()["id"])
    stored = s3_server.client().get_object(Bucket=s3_bucket, Key=f"market/{record.weights_path}")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == record.weights_sha256
    assert all(torch.equal(st_load(trained)[k], v) for k, v in st_load(stored).items())
    assert not (tmp_path / "b" / "runs").exists()  # machine B never had the run's folder
