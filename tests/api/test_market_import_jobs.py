"""Market imports as jobs, over HTTP against the live stack (the ASGI server and a real Celery
worker, tests/conftest.py): the web process answers 202 without building the model, and the
worker checks the weights and publishes, or fails the job naming what is wrong."""
from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from safetensors.torch import save as st_save

from tests.conftest import poll
from tests.market_bundles import bundle_of, wide_linear

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
MiB = 1024**2


class Client:
    """A user of the live server, by API token."""

    def __init__(self, stack: Any) -> None:
        user = get_user_model().objects.create_user(username=f"importer_{uuid.uuid4().hex[:6]}", password="x" * 12)
        self.stack, self.token = stack, Token.objects.create(user=user).key

    def request(self, method: str, path: str, data: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        request = urllib.request.Request(self.stack.url + path, data=data, method=method)
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def upload(self, path: str, files: dict[str, tuple[str, bytes]], fields: dict[str, str]) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, value in fields.items()]
        parts += [(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n").encode() + blob + b"\r\n"
                  for name, (filename, blob) in files.items()]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")

    def finished(self, job: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            status, body = self.request("GET", f"/api/v1/market/imports/{job['id']}/")
            assert status == 200, body
            return body if body["status"] in ("succeeded", "failed") else None

        try:
            return poll(done, timeout, f"import {job['id']}", every=0.3)
        except AssertionError:
            raise AssertionError(self.stack.log_tail()) from None


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak RSS since the process started) of ``pid``, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def test_the_web_process_answers_202_without_building_a_400m_parameter_model(live_stack: Any) -> None:
    # 400M parameters (1.5 GiB in fp32), under the 500M cap, with weights that do not fit: the
    # old request built the whole model to compare them. Now only the worker compares, on meta.
    client = Client(live_stack)
    data = bundle_of(wide_linear(20_000, 20_000), weights=st_save({"fc.weight": torch.zeros(3)}))
    web = live_stack.procs[1].pid
    before = _memory(web)
    started = time.monotonic()
    status, job = client.upload("/api/v1/market/import/", {"file": ("wide.zip", data)}, {})
    elapsed = time.monotonic() - started
    after = _memory(web)
    print(f"web RSS {before['VmRSS'] / MiB:.0f} MiB -> peak {after['VmHWM'] / MiB:.0f} MiB "
          f"(VmHWM from /proc); request {elapsed:.2f} s")
    assert status == 202, job
    assert job["status"] in ("queued", "running") and job["params"] == 400_020_000
    # A built model would have raised the web process's peak by about 1.5 GiB.
    assert after["VmHWM"] <= max(before["VmHWM"], before["VmRSS"] + 128 * MiB), (before, after)
    finished = client.finished(job)
    assert finished["status"] == "failed" and finished["entry"] is None, finished
    assert finished["error"]["field"] == "file"
    assert finished["error"]["message"].startswith("weights.safetensors does not fit graph.json: missing ['fc.bias']")


def test_the_worker_checks_and_publishes_a_bundle(live_stack: Any) -> None:
    client = Client(live_stack)
    torch.manual_seed(0)
    weights = st_save({"fc.weight": torch.randn(3, 8), "fc.bias": torch.randn(3)})
    data = bundle_of(wide_linear(8, 3), weights=weights, title="Tiny regressor")
    status, job = client.upload("/api/v1/market/import/", {"file": ("tiny.zip", data)}, {"visibility": "private"})
    assert status == 202, job
    finished = client.finished(job)
    assert finished["status"] == "succeeded", finished
    assert finished["progress"] == 1.0 and finished["stage"] == "imported" and finished["error"] is None
    assert finished["entry_title"] == "Tiny regressor" and finished["finished_at"]
    status, entry = client.request("GET", f"/api/v1/market/entries/{finished['entry']}/")
    assert status == 200 and entry["kind"] == "model" and entry["latest_params"] == 27
    status, version = client.request("GET", f"/api/v1/market/versions/{finished['version']}/")
    assert status == 200 and version["has_weights"] and version["params"] == 27
    assert version["weights_sha256"] == hashlib.sha256(weights).hexdigest()


def test_the_worker_fails_a_tampered_bundle_naming_the_member(live_stack: Any) -> None:
    client = Client(live_stack)
    data = bundle_of(wide_linear(8, 3), weights=st_save({"fc.weight": torch.ones(3, 8), "fc.bias": torch.ones(3)}))
    changed = st_save({"fc.weight": torch.zeros(3, 8), "fc.bias": torch.ones(3)})  # the manifest keeps the old hash
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, changed if name == "weights.safetensors" else src.read(name))
    status, job = client.upload("/api/v1/market/import/", {"file": ("tampered.zip", out.getvalue())}, {})
    assert status == 202, job
    finished = client.finished(job)
    assert finished["status"] == "failed" and finished["error"]["field"] == "file", finished
    assert "weights.safetensors does not match the SHA-256" in finished["error"]["message"]


def test_the_worker_imports_torchvision_weights_and_fails_ones_that_do_not_fit(live_stack: Any) -> None:
    import torchvision

    client = Client(live_stack)
    torch.manual_seed(0)
    fields = {"architecture": "squeezenet1_1", "input_size": "64", "num_classes": "3", "title": "Squeeze"}
    squeeze = torchvision.models.squeezenet1_1(num_classes=3)
    other = torchvision.models.shufflenet_v2_x0_5(num_classes=3)
    jobs = {}
    for name, model in (("squeeze.safetensors", squeeze), ("other.safetensors", other)):
        blob = st_save({k: v.contiguous() for k, v in model.state_dict().items()})
        status, jobs[name] = client.upload("/api/v1/market/import-torchvision/", {"weights": (name, blob)}, fields)
        assert status == 202 and jobs[name]["kind"] == "torchvision", jobs[name]
        assert jobs[name]["params"] == sum(p.numel() for p in squeeze.parameters())  # counted on meta
    done = client.finished(jobs["squeeze.safetensors"])
    assert done["status"] == "succeeded" and done["entry_title"] == "Squeeze", done
    refused = client.finished(jobs["other.safetensors"])
    assert refused["status"] == "failed" and refused["error"]["field"] == "weights", refused
    assert "other.safetensors does not fit squeezenet1_1 with 3 classes" in refused["error"]["message"]
