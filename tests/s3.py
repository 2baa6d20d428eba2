"""A real S3-compatible server for the tests (issue 18): moto in server mode speaks S3's HTTP API.

`.ci/run` starts one and sets ``VMB_TEST_S3_URL``; without it, the first test that needs S3 starts
``moto_server`` from this virtual environment on a free port for the session. Each test gets its own
bucket, so tests never see each other's objects."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# moto accepts any credentials; these are the ones the tests and their child processes use.
ACCESS_KEY = "vmb-test"
SECRET_KEY = "vmb-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    url: str  # e.g. http://127.0.0.1:5931

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def new_bucket(self, prefix: str = "vmb") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str) -> dict[str, str]:
        """The environment that points this app's storage at ``bucket`` (config/settings/base.py)."""
        return {"VMB_STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.url,
                "S3_ACCESS_KEY_ID": ACCESS_KEY, "S3_SECRET_ACCESS_KEY": SECRET_KEY, "S3_REGION": REGION}

    def storages(self, bucket: str) -> dict[str, Any]:
        """A STORAGES setting on ``bucket`` for ``override_settings`` in this process."""
        return {"default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
                    "bucket_name": bucket, "endpoint_url": self.url, "access_key": ACCESS_KEY,
                    "secret_key": SECRET_KEY, "region_name": REGION, "file_overwrite": True}},
                "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    url = os.environ.get("VMB_TEST_S3_URL", "").rstrip("/")
    if url:
        if not _answers(url):
            pytest.fail(f"VMB_TEST_S3_URL={url} does not answer: start it with .ci/run or unset it")
        yield S3Server(url)
        return
    binary = Path(sys.executable).parent / "moto_server"
    command = [str(binary)] if binary.exists() else [shutil.which("moto_server") or "moto_server"]
    port = _free_port()
    proc = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start on port {port} (exit {proc.poll()})")
            time.sleep(0.2)
        yield S3Server(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket on the test S3 server."""
    return s3_server.new_bucket()
