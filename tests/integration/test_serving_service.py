"""docker-compose's `serving` service, run here exactly as compose runs it (its own command line,
on a loopback port): uvicorn starts one worker process per SERVING_WORKERS serving the serving app
(no Django), which answers the health paths and a deployed model (checked against the model
itself) from the index the stack's worker wrote, and whose request counts reach the deployment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import torch
import yaml
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from domain.deploy.models import ModelVariant
from pipelines.export.package import load_package
from tests.conftest import ROOT, _env_for_children, _free_port
from tests.deploy_factories import make_artifact

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _compose_command(port: int) -> str:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["serving"]
    assert service["command"][:2] == ["sh", "-c"], service["command"]
    # Compose turns $$ into $; the container listens on 0.0.0.0:8000, this test on loopback.
    return (service["command"][2].replace("$$", "$").replace("--host 0.0.0.0", "--host 127.0.0.1")
            .replace("--port 8000", f"--port {port}"))


def _get(url: str, body: bytes | None = None, key: str = "") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_serving_service_command_serves_a_deployment_with_its_workers(live_stack: Any, settings: Any,
                                                                          tmp_path: Path) -> None:
    # The deployment is prepared by the stack's real worker, in the folders every process shares.
    user = get_user_model().objects.create_user(username="server", password="correct-horse-battery")
    client = APIClient()
    client.force_authenticate(user)
    model = client.post("/api/v1/models/", {"run": make_artifact(user, "concat").run_id}, format="json").json()
    created = client.post("/api/v1/deployments/", {"model": model["id"], "name": "served"}, format="json").json()
    deadline = time.monotonic() + 120
    while (state := client.get(f"/api/v1/deployments/{created['deployment']['id']}/").json())["status"] != "succeeded":
        assert state["status"] != "failed" and time.monotonic() < deadline, (state, live_stack.log_tail())
        time.sleep(0.3)

    port = _free_port()
    env = {**_env_for_children(), "SERVING_WORKERS": "2",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(tmp_path / "serving.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(["sh", "-c", _compose_command(port)], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(base + "/v2/health/ready") == (200, {"ready": True}):
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serving.log").read_text()
            time.sleep(0.3)
        workers = psutil.Process(process.pid).children(recursive=True)
        assert sum("multiprocessing" in " ".join(w.cmdline()) for w in workers) >= 2, [w.cmdline() for w in workers]

        x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
        body = json.dumps({"inputs": [{"name": "image", "shape": [2, 1, 8, 8], "datatype": "FP32",
                                       "data": x.ravel().tolist()}]}).encode()
        package = load_package(Path(settings.DEPLOY_DIR) / ModelVariant.objects.get(pk=model["id"]).folder)
        with torch.no_grad():
            expected = package.module()(torch.from_numpy(x)).numpy()
        for _ in range(4):  # keep-alive is off here: each call may land on either worker
            status, answer = _get(base + "/v2/models/served/infer", body, created["api_key"])
            assert status == 200, answer
            assert answer["outputs"][0]["shape"] == [2, 10]
            assert np.allclose(np.array(answer["outputs"][0]["data"]).reshape(2, 10), expected, atol=1e-4)
        status, refused = _get(base + "/v2/models/served/infer", body, "vmb_not-a-key")
        assert status == 401, refused
        # The workers push their counts to Redis; reading the deployment folds them in.
        deadline = time.monotonic() + 10
        while (shown := client.get(f"/api/v1/deployments/{created['deployment']['id']}/").json())["metrics"][
                "requests"] < 4:
            assert time.monotonic() < deadline, shown["metrics"]
            time.sleep(0.3)
        assert shown["metrics"]["requests"] == 4 and shown["metrics"]["errors"] == 0
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
