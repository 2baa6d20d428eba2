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


def test_an_import_uploaded_to_one_machine_is_imported_on_another(settings: Any, tmp_path: Path,
                                                                  s3_server: S3Server, s3_bucket: str,
                                                                  api: Any) -> None:
    import io

    from domain.market.imports import run_import
    from tests.market_bundles import bundle_of, wide_linear

    settings.STORAGES = s3_server.storages(s3_bucket)
    _machine(settings, tmp_path / "web")
    upload = io.BytesIO(bundle_of(wide_linear(4, 2)))
    upload.name = "model.zip"
    response = api.post("/api/v1/market/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="market/imports/").get("Contents", [])
    assert len(listed) == 1 and not list((tmp_path / "web" / "market" / "imports").iterdir())  # only in the store

    _machine(settings, tmp_path / "worker")  # the worker that takes the job has an empty market folder
    assert run_import(response.json()["id"]) == "succeeded"
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix="market/imports/").get("KeyCount") == 0
    assert not list((tmp_path / "worker" / "market" / "imports").iterdir())
