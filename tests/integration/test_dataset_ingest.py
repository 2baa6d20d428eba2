"""Datasets end to end: tus upload over HTTP to the web server, ingest in a real Celery worker process,
progress on the project's WebSocket, then stats, samples and previews through the API."""
from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.asgi import application
from domain.datasets.models import DatasetVersion, Upload
from domain.datasets.services import cache_folder
from domain.projects.services import create_project
from pipelines.datasets.loader import CachedDataset
from tests.conftest import run_async
from tests.dataset_factories import (
    array_png,
    bomb_png,
    dicom_folder_zip,
    image_class_zip,
    nifti_zip,
    png_bytes,
    segmentation_zip,
    table_csv,
    text_csv,
    write_zip,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture
def owner(live_stack: Any) -> Iterator[tuple[Any, APIClient]]:
    user = get_user_model().objects.create_user(username=f"ds{time.monotonic_ns()}", password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    yield user, client
    for upload in Upload.objects.filter(owner=user):
        if upload.storage_name:
            shutil.rmtree(Path(default_storage.path(upload.storage_name)).parent, ignore_errors=True)
    for project in user.owned_projects.all():
        shutil.rmtree(Path(settings.DATASETS_ROOT) / f"project-{project.pk}", ignore_errors=True)


def upload_in_process(client: APIClient, data: bytes, filename: str) -> str:
    name = base64.b64encode(filename.encode()).decode()
    created = client.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH=str(len(data)), HTTP_UPLOAD_METADATA=f"filename {name}", **TUS)
    url = created["Location"]
    response = client.generic("PATCH", url, data, content_type="application/offset+octet-stream",
                              HTTP_UPLOAD_OFFSET="0", **TUS)
    assert response.status_code == 204, response.content
    return str(created.json()["id"])


def upload_over_http(base: str, token: str, data: bytes, filename: str, chunk: int = 64 * 1024) -> str:
    """A tus client: create, PATCH chunks, and resume from HEAD's offset halfway through."""
    headers = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
    name = base64.b64encode(filename.encode()).decode()
    create = urllib.request.Request(f"{base}/api/v1/uploads/", method="POST", data=b"", headers={
        **headers, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"})
    with urllib.request.urlopen(create, timeout=30) as response:
        assert response.status == 201
        location = response.headers["Location"]
    offset = 0
    while offset < len(data):
        if offset >= len(data) // 2:  # as a client does after a dropped connection
            with urllib.request.urlopen(urllib.request.Request(location, method="HEAD", headers=headers),
                                        timeout=30) as response:
                offset = int(response.headers["Upload-Offset"])
        body = data[offset : offset + chunk]
        patch = urllib.request.Request(location, method="PATCH", data=body, headers={
            **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        with urllib.request.urlopen(patch, timeout=30) as response:
            assert response.status == 204
            offset = int(response.headers["Upload-Offset"])
    return location.rstrip("/").rsplit("/", 1)[-1]


def new_dataset(client: APIClient, project: Any, kind: str) -> int:
    response = client.post("/api/v1/datasets/", {"project": project.pk, "name": kind, "kind": kind}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def ingest(client: APIClient, dataset: int, upload: str, options: dict[str, Any] | None = None) -> int:
    response = client.post(f"/api/v1/datasets/{dataset}/versions/", {"upload": upload, "options": options or {}},
                           format="json")
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


def ingest_then_close(*args: Any) -> int:
    """``ingest`` from a helper thread, closing that thread's database connection after."""
    from django.db import connection

    try:
        return ingest(*args)
    finally:
        connection.close()


def finished(client: APIClient, version: int, live_stack: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if DatasetVersion.objects.get(pk=version).is_finished:
            return dict(client.get(f"/api/v1/dataset-versions/{version}/").json())
        time.sleep(0.3)
    raise AssertionError(f"version {version} did not finish:\n{live_stack.log_tail()}")


def test_image_upload_over_http_ingests_with_progress_events(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="images")
    archive = image_class_zip(tmp_path / "pets.zip", per_class=6)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("pets/cat/bomb.png", bomb_png())
        zf.writestr("../escape.png", png_bytes())
    token = Token.objects.create(user=user).key
    upload_id = upload_over_http(live_stack.url, token, archive.read_bytes(), "pets.zip", chunk=4096)
    dataset = new_dataset(client, project, "image")

    async def scenario() -> list[dict[str, Any]]:
        cookie = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
        socket = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/",
                                       headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")])
        assert (await socket.connect(timeout=10))[0]
        await socket.receive_json_from(timeout=10)  # hello
        await asyncio.to_thread(ingest_then_close, client, dataset, upload_id, {"image_size": [8, 8]})
        events = []
        while not events or events[-1]["type"] != "dataset.finished":
            events.append(await socket.receive_json_from(timeout=90))
        await socket.disconnect()
        return events

    events = run_async(scenario())
    phases = [e["phase"] for e in events if e["type"] == "dataset.progress"]
    assert {"extract", "scan", "decode"} <= set(phases)
    version = finished(client, events[-1]["version"], live_stack)
    assert version["status"] == events[-1]["status"] == "succeeded" and version["has_warnings"] and events[-1]["warnings"]
    assert {s["file"]: s["code"] for s in version["skipped"]} == {"pets/cat/bomb.png": "image_too_large",
                                                                 "../escape.png": "unsafe_name"}
    assert version["progress"]["type"] == "dataset.progress"  # kept for late viewers
    assert version["stats"]["class_totals"] == {"cat": 6, "dog": 6}
    assert version["sample_count"] == 12 and version["recipe"]["size"] == [8, 8]
    samples = client.get(f"/api/v1/dataset-versions/{version['id']}/samples/?split=train&page_size=5").json()
    assert samples["count"] >= 6 and all(s["split"] == "train" for s in samples["results"])
    preview = client.get(f"/api/v1/dataset-versions/{version['id']}/samples/0/preview/")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG")
    assert not (Path(settings.DATASETS_ROOT).parent / "escape.png").exists()


def test_table_and_text(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="tables")
    table = ingest(client, new_dataset(client, project, "table"),
                   upload_in_process(client, table_csv(tmp_path / "t.csv").read_bytes(), "t.csv"),
                   {"target_column": "label"})
    text = ingest(client, new_dataset(client, project, "text"),
                  upload_in_process(client, text_csv(tmp_path / "x.csv").read_bytes(), "x.csv"),
                  {"vocab_size": 100, "max_length": 16, "stride": 4})
    table_version = finished(client, table, live_stack)
    assert table_version["status"] == "succeeded" and table_version["classes"] == ["no", "yes"]
    assert table_version["recipe"]["encoding"]["target"]["column"] == "label"
    row = client.get(f"/api/v1/dataset-versions/{table}/samples/0/").json()
    assert set(row["features"]) == set(table_version["recipe"]["features"])
    assert client.get(f"/api/v1/dataset-versions/{table}/samples/0/preview/").status_code == 400
    text_version = finished(client, text, live_stack)
    assert text_version["status"] == "succeeded" and text_version["stats"]["documents"] == 40
    last = text_version["sample_count"] - 1
    sample = client.get(f"/api/v1/dataset-versions/{text}/samples/{last}/").json()
    assert "number 39" in sample["text"]


def test_dicom_and_nifti_are_deidentified(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="ct")
    archive = dicom_folder_zip(tmp_path / "ct.zip", tmp_path / "src", patients=4, slices=6, size=16)
    dicom = ingest(client, new_dataset(client, project, "ct_dicom"),
                   upload_in_process(client, archive.read_bytes(), "ct.zip"),
                   {"volume_shape": [4, 8, 8], "window": {"preset": "mediastinum"}})
    nifti = ingest(client, new_dataset(client, project, "ct_nifti"),
                   upload_in_process(client, nifti_zip(tmp_path / "n.zip").read_bytes(), "n.zip"),
                   {"volume_shape": [3, 4, 4]})
    version = finished(client, dicom, live_stack)
    assert version["status"] == "succeeded" and version["classes"] == ["normal", "pneumonia"]
    assert version["recipe"]["window"]["preset"] == "mediastinum"
    shown = json.dumps(version) + json.dumps(client.get(f"/api/v1/dataset-versions/{dicom}/samples/").json())
    assert "SYNTHETIC" not in shown and "SYN0000" not in shown
    lung = client.get(f"/api/v1/dataset-versions/{dicom}/samples/0/preview/?window=lung&slice=2")
    custom = client.get(f"/api/v1/dataset-versions/{dicom}/samples/0/preview/?window=custom&center=0&width=400")
    assert lung.status_code == custom.status_code == 200 and lung.content != custom.content
    bad = client.get(f"/api/v1/dataset-versions/{dicom}/samples/0/preview/?window=custom&center=0")
    assert bad.status_code == 400 and "center" in bad.json()
    assert finished(client, nifti, live_stack)["sample_count"] == 6


def test_sample_datasets_are_one_call_away(owner: Any, live_stack: Any) -> None:
    user, client = owner
    project = create_project(user, name="samples")
    ids = [client.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": name},
                       format="json").json()["id"] for name in ("digits", "chest_ct")]
    digits, chest = (finished(client, i, live_stack, timeout=180) for i in ids)
    assert digits["status"] == "succeeded" and digits["sample_count"] == 1797 and len(digits["classes"]) == 10
    assert chest["status"] == "succeeded" and chest["classes"] == ["normal", "pneumonia"]
    assert chest["recipe"]["splits"]["grouped_by"] == "patient"


def test_segmentation_upload_and_the_shapes_sample(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="segmentation")
    extra = {"seg/images/lonely.png": png_bytes((16, 12)),
             "seg/images/small.png": png_bytes((16, 12)), "seg/masks/small.png": array_png(np.zeros((3, 4), np.uint8)),
             "seg/images/nine.png": png_bytes((16, 12)), "seg/masks/nine.png": array_png(np.full((12, 16), 9, np.uint8))}
    archive = segmentation_zip(tmp_path / "seg.zip", pairs=10, extra=extra)
    uploaded = ingest(client, new_dataset(client, project, "segmentation"),
                      upload_in_process(client, archive.read_bytes(), "seg.zip"), {"image_size": [8, 8]})
    sample = client.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "shapes"}, format="json")
    assert sample.status_code == 202, sample.content
    version = finished(client, uploaded, live_stack)
    assert version["status"] == "succeeded" and version["has_warnings"] and version["task"] == "segmentation"
    assert {s["file"]: s["code"] for s in version["skipped"]} == {
        "seg/images/lonely.png": "missing_mask", "seg/masks/small.png": "mask_size_mismatch",
        "seg/images/small.png": "partner_skipped", "seg/masks/nine.png": "invalid_mask_value",
        "seg/images/nine.png": "partner_skipped"}
    assert version["classes"] == ["background", "road", "car"] and version["sample_count"] == 10
    assert set(version["stats"]["pixel_share"]) == {"background", "road", "car"}
    assert version["recipe"]["target"] == "mask" and version["recipe"]["size"] == [8, 8]
    page = client.get(f"/api/v1/dataset-versions/{uploaded}/samples/?split=train&page_size=3").json()
    assert page["count"] >= 6 and len(page["results"]) == 3
    assert page["results"][0]["meta"]["mask"].startswith("seg/masks/")
    detail = client.get(f"/api/v1/dataset-versions/{uploaded}/samples/1/").json()
    assert detail["preview"].endswith("/samples/1/preview/")
    drawn = client.get(f"/api/v1/dataset-versions/{uploaded}/samples/1/preview/")
    plain = client.get(f"/api/v1/dataset-versions/{uploaded}/samples/1/preview/?overlay=false")
    assert drawn.status_code == plain.status_code == 200 and drawn["Content-Type"] == "image/png"
    assert drawn.content.startswith(b"\x89PNG") and drawn.content != plain.content
    shapes = finished(client, sample.json()["id"], live_stack, timeout=180)
    assert shapes["status"] == "succeeded" and shapes["classes"] == ["background", "circle", "square"]
    assert shapes["sample_count"] == 120 and shapes["task"] == "segmentation"
    dataset_version = DatasetVersion.objects.select_related("dataset").get(pk=shapes["id"])
    x, y = CachedDataset(cache_folder(dataset_version), "train", {"flip_horizontal": True})[0]
    assert tuple(x.shape) == (3, 64, 64) and tuple(y.shape) == (64, 64)


def test_hostile_archive_fails_cleanly_and_the_worker_lives_on(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="hostile")
    archive = write_zip(tmp_path / "evil.zip", {"../../../../tmp/evil.png": png_bytes(), "a/bomb.bin": b"\0" * 12_000_000,
                                                "a/big.png": bomb_png()},
                        symlinks={"a/link.png": "/etc/passwd"})
    version = finished(client, ingest(client, new_dataset(client, project, "image"),
                                      upload_in_process(client, archive.read_bytes(), "evil.zip")), live_stack)
    assert version["status"] == "failed" and version["error"]["code"] == "no_images"
    assert {s["file"] for s in version["skipped"]} == {"../../../../tmp/evil.png", "a/bomb.bin", "a/big.png",
                                                       "a/link.png"}
    assert not Path("/tmp/evil.png").exists()
    corrupt = finished(client, ingest(client, new_dataset(client, project, "ct_dicom"),
                                      upload_in_process(client, b"PK\x03\x04 not really a zip", "x.zip")), live_stack)
    assert corrupt["status"] == "failed" and corrupt["error"]["code"] in ("not_a_zip", "bad_archive")
    from domain.projects.tasks import ping_project

    assert ping_project.delay(project.pk, "alive").get(timeout=60)["nonce"] == "alive"
