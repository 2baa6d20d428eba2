"""Dataset versions through the storage layer (domain/datasets/services.py, domain/storage.py): on
an S3-compatible server (moto) an ingest on "machine A" publishes the version's cache as one tar
named by its hash with a pointer; "machine B", whose datasets folder is empty, previews and loads
it for training from a local copy installed from the bucket; a DICOM ingest leaves no patient data
in the bucket (de-identified copies only when kept); deleting the dataset deletes its objects. The ingest task runs in-process."""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domain import storage
from domain.datasets import services
from domain.datasets.models import DatasetVersion
from domain.datasets.tasks import ingest_dataset_version
from domain.projects.services import create_project
from pipelines.datasets.cache import open_inputs
from tests.dataset_factories import image_class_zip
from tests.s3 import S3Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_s3(settings: Any, tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> str:
    settings.STORAGES = s3_server.storages(s3_bucket)
    _machine(settings, tmp_path / "a")
    return s3_bucket


def _machine(settings: Any, root: Path) -> None:
    settings.MEDIA_ROOT = root / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = root / "staging"
    settings.DATASETS_ROOT = root / "datasets"
    settings.CACHE_DIR = root / "cache"


def _keys(s3_server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _ingest(user: Any, data: bytes, kind: str, options: dict[str, Any]) -> DatasetVersion:
    upload = services.create_upload(user, length=len(data), filename="data.zip", metadata={})
    upload = services.append_chunk(user, upload.pk, offset=0, length=len(data), stream=io.BytesIO(data))
    dataset = services.create_dataset(user, create_project(user, name=kind), name=kind, kind=kind)
    version = services.create_version(user, dataset, options=options, upload=upload)
    outcome = ingest_dataset_version(version.pk)
    assert outcome["status"] == "succeeded", outcome
    return DatasetVersion.objects.select_related("dataset").get(pk=version.pk)


def test_a_version_ingested_on_one_machine_is_previewed_and_trained_on_another(
        on_s3: str, settings: Any, tmp_path: Path, alice: Any, api: Any, s3_server: S3Server) -> None:
    from pipelines.training.data import cached_loaders

    version = _ingest(alice, image_class_zip(tmp_path / "pets.zip").read_bytes(), "image", {"image_size": [8, 8]})
    made = services.cache_folder(version)
    prefix = f"datasets/project-{version.dataset.project_id}/dataset-{version.dataset_id}/v1/cache"
    pointer = json.loads(s3_server.client().get_object(Bucket=on_s3, Key=f"{prefix}/bundle.json")["Body"].read())
    packed = s3_server.client().get_object(Bucket=on_s3, Key=f"datasets/{pointer['name']}")["Body"].read()
    assert pointer["name"] == f"{prefix.removeprefix('datasets/')}/{pointer['sha256']}.tar"
    assert hashlib.sha256(packed).hexdigest() == pointer["sha256"]
    assert made == tmp_path / "a" / "cache" / "folders" / pointer["sha256"]  # the ingest's copy, in A's cache
    assert not (services.version_folder(version) / "cache").exists()

    _machine(settings, tmp_path / "b")  # another machine: the same bucket and database, no folders
    preview = api.get(f"/api/v1/dataset-versions/{version.pk}/samples/0/preview/")
    assert preview.status_code == 200, preview.content
    assert preview.content.startswith(b"\x89PNG")
    installed = services.cache_folder(version)
    assert installed == tmp_path / "b" / "cache" / "folders" / pointer["sha256"]  # in B's content-hash cache
    assert np.array_equal(open_inputs(installed), open_inputs(made))  # memory-mapped from B's own disk
    assert not (tmp_path / "b" / "cache" / pointer["sha256"]).exists()  # the tar went once unpacked
    assert not (tmp_path / "b" / "datasets").exists()
    data = cached_loaders(installed, batch_size=4, seed=0, classes=len(version.classes))
    inputs, targets = next(iter(data.train))
    assert inputs.shape[0] == 4 and targets.shape == (4,)


def test_dataset_folders_count_in_the_cache_bound_and_come_back_after_eviction(
        on_s3: str, settings: Any, tmp_path: Path, alice: Any) -> None:
    first = services.create_sample_dataset(alice, create_project(alice, name="t"), "breast_cancer")
    second = services.create_sample_dataset(alice, create_project(alice, name="u"), "topics")
    for version in (first, second):
        assert ingest_dataset_version(version.pk)["status"] == "succeeded"
    first, second = (DatasetVersion.objects.select_related("dataset").get(pk=v.pk) for v in (first, second))
    expected = np.array(open_inputs(services.cache_folder(second)))
    sizes = [sum(p.stat().st_size for p in services.cache_folder(v).iterdir()) for v in (first, second)]
    _machine(settings, tmp_path / "b")  # another machine, whose cache holds one version's folder, not two
    settings.CACHE_BYTES = max(sizes) + min(sizes) // 2
    cache = storage.content_cache()
    with services.held_cache(first) as held:
        assert services.cache_folder(second).is_dir() and held.is_dir()  # held: kept past the bound
        assert cache.total_bytes() == sum(sizes) > settings.CACHE_BYTES
    services.cache_folder(first)  # a hit: the second is now the least recently used
    assert cache.evict() == [_sha(second)]
    again = services.cache_folder(second)  # installed again from the store; the first, not held, goes
    assert np.array_equal(open_inputs(again), expected)
    assert not cache.folder_path(_sha(first)).exists() and cache.total_bytes() <= settings.CACHE_BYTES


def _sha(version: DatasetVersion) -> str:
    ref = storage.read_pointer("datasets", f"project-{version.dataset.project_id}/dataset-{version.dataset_id}/v1/cache")
    assert ref is not None
    return ref["sha256"]


def test_a_version_missing_from_the_store_is_a_400_naming_it(on_s3: str, settings: Any, tmp_path: Path, alice: Any,
                                                           api: Any, s3_server: S3Server) -> None:
    version = _ingest(alice, image_class_zip(tmp_path / "pets.zip").read_bytes(), "image", {"image_size": [8, 8]})
    for key in _keys(s3_server, on_s3, "datasets/"):  # the bucket lost the version (or it predates the store)
        s3_server.client().delete_object(Bucket=on_s3, Key=key)
    _machine(settings, tmp_path / "b")
    preview = api.get(f"/api/v1/dataset-versions/{version.pk}/samples/0/preview/")
    assert preview.status_code == 400, preview.content
    assert f"dataset version {version.pk} are not in the object store" in preview.json()["dataset_version"][0]


def test_deleting_the_dataset_deletes_its_objects(on_s3: str, tmp_path: Path, alice: Any, api: Any,
                                                  s3_server: S3Server,
                                                  django_capture_on_commit_callbacks: Any) -> None:
    version = _ingest(alice, image_class_zip(tmp_path / "pets.zip").read_bytes(), "image", {"image_size": [8, 8]})
    prefix = f"datasets/project-{version.dataset.project_id}/"
    assert len(_keys(s3_server, on_s3, prefix)) == 2  # the pointer and the tar it names
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datasets/{version.dataset_id}/").status_code == 204
    assert _keys(s3_server, on_s3, prefix) == []


@pytest.mark.parametrize("keep", ["none", "deidentified"])
def test_a_dicom_ingest_leaves_no_patient_data_in_the_bucket(keep: str, on_s3: str, settings: Any, tmp_path: Path,
                                                             alice: Any, s3_server: S3Server) -> None:
    from tests.dicom_phi import patients, series_zip

    settings.DATASET_KEEP_ORIGINALS = keep
    people = patients(2, tag="S")
    version = _ingest(alice, series_zip(tmp_path / "ct.zip", people).read_bytes(), "ct_dicom",
                      {"volume_shape": [4, 16, 16]})
    keys = _keys(s3_server, on_s3)
    prefix = f"datasets/project-{version.dataset.project_id}/dataset-{version.dataset_id}/v1/"
    folders = ["cache"] if keep == "none" else ["cache", "originals"]  # the upload is gone, nothing else went
    assert sorted({k.removeprefix(prefix).split("/")[0] for k in keys}) == folders and len(keys) == 2 * len(folders)
    assert all(k.startswith(prefix) for k in keys), keys
    secrets = [s for p in people for s in p.secrets()]
    stored = b"".join(s3_server.client().get_object(Bucket=on_s3, Key=k)["Body"].read() for k in keys)
    assert not [s for s in secrets if s in stored]


def test_an_ingest_that_died_leaves_no_partial_cache_in_place(on_s3: str, settings: Any, tmp_path: Path,
                                                               alice: Any) -> None:
    version = services.create_sample_dataset(alice, create_project(alice, name="t"), "breast_cancer")
    dead = services.ingest_workdir(version)  # an attempt killed mid-ingest on this machine
    (dead / "cache").mkdir()
    (dead / "cache" / "inputs.npy").write_bytes(b"partial")
    assert not services.version_folder(version).exists()  # nothing a reader here would take for the cache
    assert ingest_dataset_version(version.pk)["status"] == "succeeded"  # the re-run
    version = DatasetVersion.objects.select_related("dataset").get(pk=version.pk)
    assert [p.name for p in services.version_folder(version).parent.iterdir()] == ["v1"]  # no scratch left
    assert open_inputs(services.cache_folder(version)).shape == (version.sample_count, 30)


def test_a_version_the_store_refuses_fails_naming_it(on_s3: str, alice: Any, s3_server: S3Server) -> None:
    version = services.create_sample_dataset(alice, create_project(alice, name="t"), "breast_cancer")
    s3_server.client().delete_bucket(Bucket=on_s3)  # every write fails from now on
    outcome = ingest_dataset_version(version.pk)
    assert outcome["status"] == "failed" and outcome["error"]["code"] == "not_stored"
    assert DatasetVersion.objects.get(pk=version.pk).error["code"] == "not_stored"


def test_the_local_default_publishes_nothing(settings: Any, tmp_path: Path, alice: Any) -> None:
    _machine(settings, tmp_path / "local")
    version = services.create_sample_dataset(alice, create_project(alice, name="t"), "breast_cancer")
    assert ingest_dataset_version(version.pk)["status"] == "succeeded"
    version = DatasetVersion.objects.select_related("dataset").get(pk=version.pk)
    assert services.ingest_workdir(version) == services.version_folder(version)
    assert services.publish_version(version, services.version_folder(version)) == []
    assert services.cache_folder(version) == services.version_folder(version) / "cache"
    assert not (tmp_path / "local" / "cache").exists()  # no content-hash cache in use
