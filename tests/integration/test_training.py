"""Training end to end: the digits sample ingested by a real worker, LeNet-5 trained by a real
Celery worker process through the API in each precision mode, events on the run's WebSocket,
cancel, a worker process SIGKILLed mid-run that resumes from its last checkpoint exactly (augmentation
on, the same weights as a run left alone), and two runs on
a worker of concurrency 2 that never share its one device."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from config.asgi import application
from domain.runs.models import DeviceLease, RunEvent, TrainingRun
from pipelines.training import checkpoint
from tests.conftest import ROOT, _env_for_children, poll, run_async

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
FAST = {"batch_size": 32, "optimizer": {"lr": 5e-3}, "schedule": {"name": "cosine"}, "device": {"kind": "cpu"}}


@pytest.fixture
def trainer(live_stack: Any) -> Iterator[dict[str, Any]]:
    """A signed-in user with a LeNet-5 graph version and the ingested digits sample."""
    user = get_user_model().objects.create_user(username=f"tr{time.monotonic_ns()}", password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    project = client.post("/api/v1/projects/", {"name": "training"}, format="json").json()["id"]
    graph = client.post("/api/v1/graphs/from-template/", {"project": project, "template": "lenet5"}, format="json")
    graph_version = client.get(f"/api/v1/graphs/{graph.json()['id']}/versions/").json()["results"][0]["id"]
    dataset_version = client.post("/api/v1/datasets/from-sample/", {"project": project, "sample": "digits"},
                                  format="json").json()["id"]
    poll(lambda: client.get(f"/api/v1/dataset-versions/{dataset_version}/").json()["status"] == "succeeded", 120,
          "the digits ingest")
    yield {"client": client, "body": {"graph_version": graph_version, "dataset_version": dataset_version}}
    from django.conf import settings

    from domain.runs.services import run_folder

    for run in TrainingRun.objects.filter(project_id=project):
        shutil.rmtree(run_folder(run), ignore_errors=True)
    shutil.rmtree(Path(settings.DATASETS_ROOT) / f"project-{project}", ignore_errors=True)


def _start(trainer: dict[str, Any], **config: Any) -> int:
    response = trainer["client"].post("/api/v1/runs/", {**trainer["body"], "config": {**FAST, **config}}, format="json")
    assert response.status_code == 202, response.json()
    return int(response.json()["id"])


def _finished(client: APIClient, run_id: int, timeout: float = 150) -> dict[str, Any]:
    return poll(lambda: (r := client.get(f"/api/v1/runs/{run_id}/").json())["status"] in
                 ("succeeded", "failed", "cancelled") and r, timeout, f"run {run_id} to end")


def _socket_headers(client: APIClient) -> list[tuple[bytes, bytes]]:
    cookie = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    return [(b"cookie", cookie.encode()), (b"origin", b"http://localhost")]


# The shortest LeNet-5 run that reaches 95% in every mode on this CPU: five epochs of batch 32
# (171 of 179 validation images by the third epoch, 172 at best). Half precision is the cost: a
# CPU without fp16 kernels runs fp16 convolution backward ~17x slower than fp32, so the fp16 run
# takes ~20 s in a two-core worker and the other three ~2-4 s each. The seed is fixed; the run is deterministic.
PRECISION_RUN = {"epochs": 5, "seed": 2}
# A threshold under LeNet's bf16 error (~0.002 per layer) so dynamic moves some layers to fp32.
DYNAMIC = {"precision_mode": "dynamic", "threshold": 0.002}
LENET_LAYERS = {"c1", "c3", "f5", "f6", "logits"}


@pytest.mark.parametrize("mode", ["fp32", "fp16", "bf16", "dynamic"])
def test_lenet_trains_to_95_percent_in_each_precision_and_streams_events(trainer: dict[str, Any], mode: str) -> None:
    """LeNet-5 from the template, the digits sample, a real worker: >= 95% validation accuracy in
    fp32, fp16 (autocast and a gradient scaler), bf16 and dynamic precision."""
    client = trainer["client"]
    precision = DYNAMIC if mode == "dynamic" else {"precision_mode": mode}
    run_id = _start(trainer, **PRECISION_RUN, precision=precision)

    async def listen() -> list[dict[str, Any]]:
        socket = WebsocketCommunicator(application, f"/ws/runs/{run_id}/", headers=_socket_headers(client))
        connected, _ = await socket.connect()
        assert connected
        received = [await socket.receive_json_from(timeout=10)]
        while not (received[-1].get("type") == "run.status" and received[-1]["status"] in ("succeeded", "failed")):
            received.append(await socket.receive_json_from(timeout=150))
        await socket.disconnect()
        return received

    streamed = run_async(listen())
    assert streamed[0] == {"type": "hello", "run": run_id}
    assert "run.epoch" in {e["type"] for e in streamed}
    run = _finished(client, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["best_metrics"]["accuracy"] >= 0.95, run["best_metrics"]
    assert run["test_metrics"]["accuracy"] >= 0.9
    assert run["config"]["precision"]["precision_mode"] == mode and run["precision"]["mode"] == mode
    report = run["precision"]
    assert set(report["layers"]) >= LENET_LAYERS
    if mode == "fp32":
        assert report["low_dtype"] is None and set(report["layers"].values()) == {"fp32"}
    elif mode in ("fp16", "bf16"):
        assert report["low_dtype"] == mode and set(report["layers"].values()) == {mode}
        assert (report["loss_scale"] is not None) == (mode == "fp16")
    else:
        decisions = report["decisions"]
        assert report["probes"] > 0 and decisions, report
        assert all(d["layer"] in report["layers"] and d["to"] in ("fp32", "bf16") and d["error"] >= 0
                   for d in decisions)
        moved = {d["layer"] for d in decisions if d["to"] == "fp32"}
        assert moved and any(report["layers"][layer] == "fp32" for layer in moved)
        assert 0.0 < report["low_precision_flops_share"] < 1.0
    history = client.get(f"/api/v1/runs/{run_id}/events/").json()
    statuses = [e["data"]["status"] for e in history if e["type"] == "run.status"]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded" and statuses.count("succeeded") == 1
    assert {e["id"] for e in streamed if "id" in e} <= {e["id"] for e in history}
    artifact = client.get(f"/api/v1/runs/{run_id}/artifact/").json()
    assert artifact["preprocessing"]["resize"] == [32, 32] and len(artifact["weights_sha256"]) == 64
    assert artifact["classes"] == [str(i) for i in range(10)]
    assert artifact["config"]["precision"]["precision_mode"] == mode


def test_a_stranger_cannot_open_the_run_socket(trainer: dict[str, Any]) -> None:
    run_id = _start(trainer, epochs=1)
    stranger = get_user_model().objects.create_user(username=f"st{time.monotonic_ns()}", password="correct-horse-battery")
    other = APIClient()
    assert other.login(username=stranger.username, password="correct-horse-battery")

    async def attempt(headers: list[tuple[bytes, bytes]]) -> bool:
        socket = WebsocketCommunicator(application, f"/ws/runs/{run_id}/", headers=headers)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert not run_async(attempt(_socket_headers(other)))
    evil_origin = [(k, b"http://evil.example" if k == b"origin" else v) for k, v in _socket_headers(trainer["client"])]
    assert not run_async(attempt(evil_origin))
    _finished(trainer["client"], run_id)


def test_cancel_stops_a_running_run_and_keeps_its_checkpoint(trainer: dict[str, Any]) -> None:
    client = trainer["client"]
    run_id = _start(trainer, epochs=500)
    poll(lambda: client.get(f"/api/v1/runs/{run_id}/").json()["epoch"] >= 0, 120, "a first checkpoint")
    assert client.post(f"/api/v1/runs/{run_id}/cancel/").status_code == 202
    run = _finished(client, run_id, timeout=60)
    assert run["status"] == "cancelled"
    from domain.runs.services import run_folder

    assert checkpoint.latest(run_folder(TrainingRun.objects.get(pk=run_id)) / "checkpoints") is not None
    statuses = list(RunEvent.objects.filter(run_id=run_id, type="run.status").values_list("data__status", flat=True))
    assert statuses.count("cancelled") == 1 and statuses[-1] == "cancelled"


@pytest.fixture
def own_worker_queue(settings: Any, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A queue only this test's worker processes read, so the one we kill is the one training."""
    queue = f"train-kill-{os.getpid()}"
    settings.TRAINING_QUEUES = {"cpu": queue, "gpu": queue}
    procs: list[subprocess.Popen[bytes]] = []
    # The workers route runs to the same queue: a worker's start-up reap requeues a stale run with
    # its own settings, and on the default queue the live stack's worker would take it.
    routed = {"VMB_RUN_CPU_QUEUE": queue, "VMB_RUN_GPU_QUEUE": queue}

    def start(concurrency: int = 1, **env: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker{len(procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
                                 "-c", str(concurrency), "-n", f"{queue}-{len(procs)}@%h", "--loglevel", "INFO"],
                                cwd=ROOT, env={**_env_for_children(), **routed, **env}, stdout=log,
                                stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield queue, start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# Every random stream of a run at once: the sampler's order, the augmentation's draws (flips,
# rotation, crop, intensity) and the global torch RNG the DataLoader seeds from.
AUGMENTED_RUN = {"epochs": 3, "augmentation": {"flip_horizontal": True, "rotate_degrees": 10.0, "crop_scale": 0.8,
                                               "intensity_jitter": 0.1}}


def test_a_sigkilled_worker_process_resumes_exactly(trainer: dict[str, Any],
                                                    own_worker_queue: tuple[str, Any]) -> None:
    """Killed mid-run with augmentation on, the run resumes from its last checkpoint and ends with
    exactly the weights of the same run left alone."""
    client = trainer["client"]
    _queue, start_worker = own_worker_queue
    start_worker()
    run_id = _start(trainer, **AUGMENTED_RUN)
    poll(lambda: client.get(f"/api/v1/runs/{run_id}/").json()["epoch"] >= 0, 150, "a first checkpoint")
    victim = TrainingRun.objects.get(pk=run_id).worker_pid
    os.kill(victim, signal.SIGKILL)  # the process running the task, as the OOM killer would
    run = _finished(client, run_id, timeout=180)
    assert run["status"] == "succeeded", run["error"]
    assert run["attempts"] == 2
    history = client.get(f"/api/v1/runs/{run_id}/events/").json()
    assert any("resumed from epoch-" in e["data"].get("message", "") for e in history)
    from domain.runs.services import run_folder

    def final_checkpoint(pk: int) -> checkpoint.Checkpoint:
        folder = checkpoint.latest(run_folder(TrainingRun.objects.get(pk=pk)) / "checkpoints")
        assert folder is not None
        return checkpoint.load(folder)

    resumed = final_checkpoint(run_id)
    assert [h["epoch"] for h in resumed.state["history"]] == list(range(3))  # no epoch lost, none repeated
    straight_id = _start(trainer, **AUGMENTED_RUN)
    straight = _finished(client, straight_id)
    assert straight["status"] == "succeeded" and straight["attempts"] == 1, straight["error"]
    uninterrupted = final_checkpoint(straight_id)
    assert resumed.weights.keys() == uninterrupted.weights.keys()
    differing = [k for k in resumed.weights if not torch.equal(resumed.weights[k], uninterrupted.weights[k])]
    assert not differing, differing
    assert [h["train_loss"] for h in resumed.state["history"]] == [h["train_loss"] for h in uninterrupted.state["history"]]


def _events(run_id: int) -> list[RunEvent]:
    return list(RunEvent.objects.filter(run_id=run_id).order_by("id"))


def test_two_runs_never_share_a_device_even_with_two_worker_processes(trainer: dict[str, Any],
                                                                      own_worker_queue: tuple[str, Any]) -> None:
    """A worker of concurrency 2 on a host with one exclusive device (the CPU made one slot, as a
    GPU is): the second run waits, queued, until the first gives the device back."""
    client = trainer["client"]
    _queue, start_worker = own_worker_queue
    host = f"lease-host-{os.getpid()}"
    start_worker(concurrency=2, VMB_TRAINING_CPU_SLOTS="1", VMB_WORKER_NAME=host)
    first = _start(trainer, epochs=500)
    poll(lambda: DeviceLease.objects.filter(run_id=first).exists(), 120, "the first run to lease the device")
    second = _start(trainer, epochs=1)
    poll(lambda: any("waiting for a free cpu device" in e.data.get("message", "") for e in _events(second)), 120,
          "the second run to wait for the device")
    assert client.get(f"/api/v1/runs/{second}/").json()["status"] == "queued"
    assert list(DeviceLease.objects.values_list("host", "device", "run_id")) == [(host, "cpu:0", first)]
    assert client.post(f"/api/v1/runs/{first}/cancel/").status_code == 202
    assert _finished(client, first, timeout=60)["status"] == "cancelled"
    run = _finished(client, second, timeout=120)
    assert run["status"] == "succeeded", run["error"]
    released = next(e.pk for e in _events(first) if e.data.get("released") == ["cpu:0"])
    taken = next(e.pk for e in _events(second) if e.type == "run.status" and e.data.get("devices") == ["cpu:0"])
    assert released < taken  # stored in order: the first gave the device back before the second held it
    poll(lambda: not DeviceLease.objects.exists(), 30, "the second run to give the device back")
