"""Any web replica takes any tus chunk (issue 18).

With object storage the chunks of an upload go to an S3 multipart upload on a real S3-compatible
server (moto in server mode, tests/s3.py) and the upload's offset and staging state live in the
database: two uvicorn processes on two ports, as `make run` starts one (scripts/run.py's
``web_command``), share one bucket and the test database, and the chunks of one upload alternate
between them. The chunk sizes exercise S3's part rule (every part but the last at least 5 MiB):
small chunks wait as objects of their own until they make a part. With the local default the
staging folder is the shared state, and a replica that does not see it says so (410).
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from domain.datasets import multipart
from domain.datasets.models import DatasetVersion, Upload
from scripts.run import web_command
from tests.conftest import stop_processes
from tests.s3 import S3Server

ROOT = Path(__file__).resolve().parent.parent.parent
MiB = 1024**2
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
# Part 1: 1 MiB + (2 MiB + 1) wait as objects, 3 MiB makes the part (6 MiB + 1); part 2: 6 MiB
# alone; part 3, the last and smaller than 5 MiB: 700 KiB waits, the final 1 MiB + 3 ends it.
CHUNKS = [MiB, 2 * MiB + 1, 3 * MiB, 6 * MiB, 700 * 1024, MiB + 3]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replicas:
    def __init__(self, ports: list[int], token: str, bucket: str, logs: list[Path]) -> None:
        self.ports, self.token, self.bucket, self.logs = ports, token, bucket, logs

    def log_tail(self) -> str:
        return "".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs)

    def request(self, port: int, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=body, headers={
            "Authorization": f"Token {self.token}", **TUS, **(headers or {})})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def patch(self, port: int, path: str, offset: int, body: bytes) -> http.client.HTTPResponse:
        return self.request(port, "PATCH", path, body, {"Upload-Offset": str(offset), "Content-Type": OCTETS})


@pytest.fixture(scope="module")
def replicas(s3_server: S3Server, django_db_setup: None, django_db_blocker: Any,
             tmp_path_factory: Any) -> Iterator[Replicas]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    tmp = tmp_path_factory.mktemp("replicas")
    bucket = s3_server.new_bucket("uploads")
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_user(username="uploader-replicas", password="correct-horse-battery")
        token = Token.objects.create(user=user).key
        db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1", "REDIS_URL": settings.REDIS_URL,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        **s3_server.env(bucket),
    })
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    logs: list[Path] = []
    for i in range(2):  # two replicas, each with a folder of its own: nothing local is shared
        port = _free_port()
        var = tmp / f"replica{i}"
        env_i = {**env, "VMB_VAR_DIR": str(var), "MEDIA_ROOT": str(var / "media"), "TMPDIR": str(tmp),
                 "VMB_UPLOAD_STAGING_DIR": str(var / "staging")}
        log = tmp / f"web{i}.log"
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(web_command("127.0.0.1", str(port)), cwd=ROOT, env=env_i,
                                          stdout=out, stderr=subprocess.STDOUT))
        ports.append(port)
        logs.append(log)
    served = Replicas(ports, token, bucket, logs)
    try:
        for proc, port in zip(procs, ports, strict=True):
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, served.log_tail()
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/layers/", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.3)
        yield served
    finally:
        stop_processes(procs)
        with django_db_blocker.unblock():
            user.delete()


def _objects(s3_server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.integration
@pytest.mark.django_db
def test_the_chunks_of_one_upload_alternate_between_two_replicas(replicas: Replicas, s3_server: S3Server,
                                                                 django_db_blocker: Any) -> None:
    data = os.urandom(sum(CHUNKS))
    one, two = replicas.ports
    created = replicas.request(one, "POST", "/api/v1/uploads/", headers={
        "Upload-Length": str(len(data)), "Upload-Metadata": "filename " + base64.b64encode(b"scans.zip").decode()})
    assert created.status == 201, replicas.log_tail()
    path = "/" + created.headers["Location"].split("/", 3)[3]
    offset = 0
    for i, size in enumerate(CHUNKS):
        port, other = (one, two) if i % 2 else (two, one)
        body = data[offset : offset + size]
        if i == 1:
            # Two PATCHes at the same offset, one on each replica: one takes it, the other is told 409.
            answers: list[int] = []

            def send(port: int, at: int = offset, chunk: bytes = body, into: list[int] = answers) -> None:
                into.append(replicas.patch(port, path, at, chunk).status)

            threads = [threading.Thread(target=send, args=(p,)) for p in (one, two)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(answers) == [204, 409], (answers, replicas.log_tail())
        else:
            answer = replicas.patch(port, path, offset, body)
            assert answer.status == 204, (i, answer.status, replicas.log_tail())
        offset += size
        for either in (one, two):  # both replicas know the offset: it is in the database
            head = replicas.request(either, "HEAD", path)
            assert head.status == 200 and int(head.headers["Upload-Offset"]) == offset
        if i == 2:
            assert replicas.patch(other, path, offset - 1, b"x").status == 409  # a wrong offset
    assert offset == len(data)

    upload_id = path.rstrip("/").rsplit("/", 1)[-1]
    with django_db_blocker.unblock():
        upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "complete" and [p["size"] for p in upload.parts] == [6 * MiB + 1, 6 * MiB, 1724 * 1024 + 3]
    assert upload.pending == []
    client = s3_server.client()
    stored = client.get_object(Bucket=replicas.bucket, Key=upload.storage_name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    # Nothing is left in the staging area, and no multipart upload is open.
    assert _objects(s3_server, replicas.bucket, multipart.STAGING_PREFIX) == []
    assert not client.list_multipart_uploads(Bucket=replicas.bucket).get("Uploads")

    # Terminating it (on either replica) deletes the stored object.
    assert replicas.request(one, "DELETE", path).status == 204
    assert _objects(s3_server, replicas.bucket, "datasets/uploads/") == []


# ---- in this process, on the same S3 server: abort, and an ingest that reads from the bucket ------------
@pytest.fixture
def on_s3(s3_server: S3Server, s3_bucket: str, settings: Any, tmp_path: Path) -> str:
    settings.STORAGES = s3_server.storages(s3_bucket)
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    settings.DATASETS_ROOT = tmp_path / "datasets"
    settings.MEDIA_ROOT = tmp_path / "media"
    assert multipart.applies()
    return s3_bucket


def _create(api: APIClient, length: int, name: str = "data.bin") -> str:
    created = api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH=str(length), HTTP_TUS_RESUMABLE="1.0.0",
                       HTTP_UPLOAD_METADATA="filename " + base64.b64encode(name.encode()).decode())
    assert created.status_code == 201, created.content
    return str(created["Location"])


def _patch(api: APIClient, url: str, offset: int, body: bytes) -> Any:
    return api.generic("PATCH", url, body, content_type=OCTETS, HTTP_UPLOAD_OFFSET=str(offset), HTTP_TUS_RESUMABLE="1.0.0")


@pytest.mark.django_db
def test_terminating_an_unfinished_upload_aborts_its_parts(api: APIClient, on_s3: str, s3_server: S3Server,
                                                          tmp_path: Path) -> None:
    data = os.urandom(6 * MiB + 10)
    url = _create(api, len(data) + 100)
    assert _patch(api, url, 0, data[: 6 * MiB]).status_code == 204  # one part
    assert _patch(api, url, 6 * MiB, data[6 * MiB :]).status_code == 204  # one pending chunk
    upload = Upload.objects.get()
    assert len(upload.parts) == 1 and len(upload.pending) == 1 and upload.multipart_id
    client = s3_server.client()
    assert len(client.list_multipart_uploads(Bucket=on_s3)["Uploads"]) == 1
    assert not (tmp_path / "staging").exists()  # nothing staged on this machine's disk

    assert api.delete(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 204
    assert not client.list_multipart_uploads(Bucket=on_s3).get("Uploads")
    assert _objects(s3_server, on_s3) == []
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_an_abandoned_upload_expires_with_its_parts(api: APIClient, on_s3: str, s3_server: S3Server,
                                                    settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django.utils.http import parse_http_date

    from domain.datasets.services import expire_uploads

    settings.DATASET_UPLOAD_EXPIRE_S = 3600
    data = os.urandom(5 * MiB + 1)
    abandoned, fresh = _create(api, len(data) + 100), _create(api, 10)
    answer = _patch(api, abandoned, 0, data)  # one part
    assert answer.status_code == 204
    expires = parse_http_date(answer["Upload-Expires"])
    assert abs(expires - (timezone.now() + timedelta(hours=1)).timestamp()) < 60
    assert _patch(api, abandoned, len(data), b"x" * 10).status_code == 204  # and one pending chunk
    assert _patch(api, fresh, 0, b"12345").status_code == 204  # a pending chunk of a live upload
    old = Upload.objects.get(pk=abandoned.rstrip("/").rsplit("/", 1)[-1])
    assert len(old.parts) == 1 and len(old.pending) == 1
    Upload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=2))

    assert expire_uploads() == 1
    assert list(Upload.objects.values_list("offset", flat=True)) == [5]  # the fresh one is kept
    client = s3_server.client()
    assert not client.list_multipart_uploads(Bucket=on_s3).get("Uploads")
    assert _objects(s3_server, on_s3, multipart.STAGING_PREFIX + "/" + str(Upload.objects.get().pk)) != []
    assert [k for k in _objects(s3_server, on_s3) if str(old.pk) in k] == []


@pytest.mark.django_db
def test_an_upload_in_object_storage_ingests(api: APIClient, alice: Any, on_s3: str, s3_server: S3Server,
                                             tmp_path: Path) -> None:
    """The worker's side: the ingest streams the upload from the bucket (the task runs in-process)."""
    from domain.datasets.tasks import ingest_dataset_version
    from domain.projects.services import create_project
    from tests.dataset_factories import image_class_zip

    data = image_class_zip(tmp_path / "pets.zip", per_class=6).read_bytes()
    url = _create(api, len(data), "pets.zip")
    half = len(data) // 2
    assert _patch(api, url, 0, data[:half]).status_code == 204
    last = _patch(api, url, half, data[half:])
    assert last.status_code == 204 and "Upload-Expires" not in last  # complete: it no longer expires
    upload = Upload.objects.get()
    assert s3_server.client().get_object(Bucket=on_s3, Key=upload.storage_name)["Body"].read() == data

    project = create_project(alice, name="pets")
    dataset = api.post("/api/v1/datasets/", {"project": project.pk, "name": "pets", "kind": "image"}, format="json")
    assert dataset.status_code == 201, dataset.content
    version = api.post(f"/api/v1/datasets/{dataset.json()['id']}/versions/",
                       {"upload": str(upload.pk), "options": {"image_size": [8, 8]}}, format="json")
    assert version.status_code == 202, version.content
    assert ingest_dataset_version(version.json()["id"])["status"] == "succeeded"
    done = DatasetVersion.objects.get(pk=version.json()["id"])
    assert done.sample_count == 12 and not (tmp_path / "staging").exists()


# ---- the local default: the staging folder is the shared state -------------------------------------
@pytest.mark.django_db
def test_on_local_files_a_replica_without_the_staging_folder_says_so(api: APIClient, settings: Any,
                                                                     tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    assert not multipart.applies()
    url = _create(api, 300)
    assert _patch(api, url, 0, b"a" * 100).status_code == 204
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "another-replicas-staging"  # not shared
    refused = _patch(api, url, 100, b"b" * 100)
    assert refused.status_code == 410 and "VMB_UPLOAD_STAGING_DIR" in refused.json()["detail"]
    assert Upload.objects.get().offset == 100

    # Abandoned: it expires, and its staging file goes with it.
    from datetime import timedelta

    from django.utils import timezone

    from domain.datasets.services import expire_uploads

    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    assert [p.stat().st_size for p in (tmp_path / "staging").iterdir()] == [100]
    Upload.objects.update(updated_at=timezone.now() - timedelta(seconds=settings.DATASET_UPLOAD_EXPIRE_S + 1))
    assert expire_uploads() == 1 and list((tmp_path / "staging").iterdir()) == [] and not Upload.objects.exists()
