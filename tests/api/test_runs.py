"""/api/v1/runs/: validation before queueing, visibility, cancel, events, the run's state rules and
device leases (one training per GPU).
No worker here: runs are created inside a rolled-back transaction, so nothing is ever queued."""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.models import ProjectMembership, Role
from domain.projects.services import create_graph, create_graph_version, create_project
from domain.runs import services as run_services
from domain.runs import workers as run_workers
from domain.runs.models import DeviceLease, RunEvent, TrainingRun, WorkerNode

pytestmark = pytest.mark.django_db


def _dataset_version(project: Any, user: Any, classes: int = 10) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, name="digits", kind="image", created_by=user)
    return DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification",
        classes=[str(i) for i in range(classes)], sample_count=100, created_by=user,
        recipe={"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"})


@pytest.fixture
def setup(alice: Any) -> dict[str, Any]:
    project = create_project(alice, name="runs")
    graph = create_graph(alice, project, name="lenet")
    version = create_graph_version(alice, graph, document=get_template("lenet5"))
    return {"project": project, "graph_version": version, "dataset_version": _dataset_version(project, alice)}


def _body(setup: dict[str, Any], **config: Any) -> dict[str, Any]:
    return {"graph_version": setup["graph_version"].pk, "dataset_version": setup["dataset_version"].pk,
            "config": {"epochs": 2, **config}}


def test_create_validates_and_plans_the_run(api: Any, setup: dict[str, Any]) -> None:
    response = api.post("/api/v1/runs/", _body(setup, precision={"precision_mode": "dynamic"}), format="json")
    assert response.status_code == 202, response.json()
    run = response.json()
    assert run["status"] == "queued" and run["config"]["precision"]["threshold"] == 0.01
    assert run["plan"]["resize"] == [32, 32] and run["plan"]["memory"]["estimated_bytes"] > 0
    assert api.get(f"/api/v1/runs/{run['id']}/").json()["config"]["loss"] == "cross_entropy"
    assert [r["id"] for r in api.get("/api/v1/runs/", {"project": setup["project"].pk}).json()["results"]] == [run["id"]]
    events = api.get(f"/api/v1/runs/{run['id']}/events/").json()
    assert [e["type"] for e in events] == ["run.status"] and events[0]["data"]["status"] == "queued"


@pytest.mark.parametrize(("config", "field"), [
    ({"optimizer": {"lr": 0}}, "config.optimizer.lr"),
    ({"precision": {"precision_mode": "int8"}}, "config.precision.precision_mode"),
    ({"task": "regression"}, "config.task"),
    ({"batch_size": 0}, "config.batch_size"),
    ({"device": {"kind": "cpu", "gpus": 2}}, "config.device.gpus"),
    ({"early_stopping": {"enabled": True, "metric": "dice"}}, "config.early_stopping.metric"),
])
def test_bad_config_is_a_400_naming_the_field(api: Any, setup: dict[str, Any], config: dict, field: str) -> None:
    response = api.post("/api/v1/runs/", _body(setup, **config), format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


def test_config_must_be_an_object(api: Any, setup: dict[str, Any]) -> None:
    response = api.post("/api/v1/runs/", {**_body(setup), "config": [1]}, format="json")
    assert response.status_code == 400 and "config" in response.json()


def test_graph_output_must_fit_the_classes(api: Any, alice: Any, setup: dict[str, Any]) -> None:
    two = _dataset_version(setup["project"], alice, classes=2)
    response = api.post("/api/v1/runs/", {**_body(setup), "dataset_version": two.pk}, format="json")
    assert response.status_code == 400
    assert "2 classes" in response.json()["graph_version"][0]


def test_memory_estimate_is_checked_against_registered_devices(api: Any, setup: dict[str, Any]) -> None:
    WorkerNode.objects.create(name="small", queues=["gpu"], seen_at=timezone.now(),
                              devices=[{"kind": "cuda", "count": 1, "memory_bytes": 1024, "name": "tiny"}])
    response = api.post("/api/v1/runs/", _body(setup, device={"kind": "cuda"}), format="json")
    assert response.status_code == 400 and "GiB" in response.json()["config.batch_size"][0]


def test_estimate_plans_without_creating_a_run(api: Any, setup: dict[str, Any]) -> None:
    WorkerNode.objects.create(name="big", queues=["gpu"], seen_at=timezone.now(),
                              devices=[{"kind": "cuda", "count": 1, "memory_bytes": 2**34, "name": "big"}])
    response = api.post("/api/v1/runs/estimate/", _body(setup, device={"kind": "cuda"},
                                                        precision={"precision_mode": "bf16"}), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    memory = body["plan"]["memory"]
    assert memory["precision"] == "bf16" and 0 < memory["estimated_bytes"] < memory["device_bytes"] == 2**34
    assert body["plan"]["classes"] == [str(i) for i in range(10)] and body["plan"]["resize"] == [32, 32]
    assert body["config"]["batch_size"] == 64 and body["config"]["loss"] == "cross_entropy"
    assert not TrainingRun.objects.exists() and not RunEvent.objects.exists()


def test_estimate_refuses_what_create_refuses(api: Any, client_for: Any, bob: Any, setup: dict[str, Any]) -> None:
    WorkerNode.objects.create(name="small", queues=["gpu"], seen_at=timezone.now(),
                              devices=[{"kind": "cuda", "count": 1, "memory_bytes": 1024, "name": "tiny"}])
    too_big = api.post("/api/v1/runs/estimate/", _body(setup, device={"kind": "cuda"}), format="json")
    assert too_big.status_code == 400 and "GiB" in too_big.json()["config.batch_size"][0]
    bad_lr = api.post("/api/v1/runs/estimate/", _body(setup, optimizer={"lr": 0}), format="json")
    assert bad_lr.status_code == 400 and "config.optimizer.lr" in bad_lr.json()
    assert client_for(bob).post("/api/v1/runs/estimate/", _body(setup), format="json").status_code == 400
    assert not TrainingRun.objects.exists()


def test_a_run_names_its_graph(api: Any, setup: dict[str, Any]) -> None:
    run = api.post("/api/v1/runs/", _body(setup), format="json").json()
    assert run["graph"] == setup["graph_version"].graph_id
    assert api.get(f"/api/v1/runs/{run['id']}/").json()["graph"] == setup["graph_version"].graph_id


def test_others_cannot_see_or_use_the_project(client_for: Any, bob: Any, api: Any, setup: dict[str, Any]) -> None:
    run = api.post("/api/v1/runs/", _body(setup), format="json").json()
    as_bob = client_for(bob)
    assert as_bob.get(f"/api/v1/runs/{run['id']}/").status_code == 404
    assert as_bob.get(f"/api/v1/runs/{run['id']}/events/").status_code == 404
    assert as_bob.post("/api/v1/runs/", _body(setup), format="json").status_code == 400
    ProjectMembership.objects.create(project=setup["project"], user=bob, role=Role.VIEWER)
    assert as_bob.get(f"/api/v1/runs/{run['id']}/").status_code == 200
    assert as_bob.post(f"/api/v1/runs/{run['id']}/cancel/").status_code == 403
    assert as_bob.post("/api/v1/runs/", _body(setup), format="json").status_code == 403
    assert client_for(None).get("/api/v1/runs/").status_code == 401


def test_cancel_a_queued_run_ends_it_once(api: Any, setup: dict[str, Any]) -> None:
    run = api.post("/api/v1/runs/", _body(setup), format="json").json()
    response = api.post(f"/api/v1/runs/{run['id']}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/runs/{run['id']}/cancel/")
    assert again.status_code == 400 and "status" in again.json()
    assert not run_services.finish_run(run["id"], JobStatus.FAILED)  # a terminal status never changes
    statuses = [e.data["status"] for e in RunEvent.objects.filter(run_id=run["id"], type="run.status")]
    assert statuses == ["queued", "cancelled"]
    assert api.get(f"/api/v1/runs/{run['id']}/artifact/").status_code == 404
    resume = api.post(f"/api/v1/runs/{run['id']}/resume/")
    assert resume.status_code == 400 and "checkpoint" in resume.json()["status"][0]


def test_events_continue_after_an_id(api: Any, setup: dict[str, Any]) -> None:
    run = TrainingRun.objects.get(pk=api.post("/api/v1/runs/", _body(setup), format="json").json()["id"])
    for i in range(3):
        run_services.record_event(run, {"type": "run.log", "message": f"line {i}"})
    everything = api.get(f"/api/v1/runs/{run.pk}/events/").json()
    later = api.get(f"/api/v1/runs/{run.pk}/events/", {"after": everything[1]["id"]}).json()
    assert [e["data"]["message"] for e in later] == ["line 1", "line 2"]
    assert api.get(f"/api/v1/runs/{run.pk}/events/", {"after": "x"}).status_code == 400


def test_attempts_are_bounded_then_the_run_fails(api: Any, setup: dict[str, Any]) -> None:
    run_id = api.post("/api/v1/runs/", _body(setup, max_attempts=2), format="json").json()["id"]
    for attempt in (1, 2):
        run, why = run_workers.begin_attempt(run_id, pid=999_999_000 + attempt)  # no such process: "died"
        assert run is not None and run.attempts == attempt and why == ""
    run, why = run_workers.begin_attempt(run_id, pid=999_999_003)
    assert run is None and why == "failed"
    failed = TrainingRun.objects.get(pk=run_id)
    assert failed.status == "failed" and failed.error["code"] == "too_many_attempts"


def test_the_reaper_fails_a_silent_run_with_no_attempts_left(api: Any, setup: dict[str, Any]) -> None:
    run_id = api.post("/api/v1/runs/", _body(setup, max_attempts=1), format="json").json()["id"]
    run_workers.begin_attempt(run_id, pid=999_999_001)
    TrainingRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert run_workers.reap_stale_runs() == [run_id]
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == "failed" and run.error["code"] == "worker_lost"


# ---- device leases: one training per GPU -------------------------------------------------------------
GPUS = [(0, "cuda:gpu-a"), (1, "cuda:gpu-b")]


def _runs(api: Any, setup: dict[str, Any], n: int) -> list[int]:
    return [api.post("/api/v1/runs/", _body(setup), format="json").json()["id"] for _ in range(n)]


def test_a_device_is_leased_to_one_run_at_a_time(api: Any, setup: dict[str, Any]) -> None:
    first, second, third = _runs(api, setup, 3)
    mine = os.getpid()  # a live process on this host: its leases are not stale
    a = run_workers.acquire_devices(first, mine, GPUS, 1)
    b = run_workers.acquire_devices(second, mine, GPUS, 1)
    assert a and b and {a[0].device, b[0].device} == {"cuda:gpu-a", "cuda:gpu-b"} and a[0].index != b[0].index
    assert run_workers.acquire_devices(third, mine, GPUS, 1) is None
    assert run_workers.release_devices(first, mine) == 1
    c = run_workers.acquire_devices(third, mine, GPUS, 1)
    assert c and c[0].device == a[0].device
    assert run_workers.acquire_devices(first, mine, GPUS, 2) is None  # data parallel needs both free


def test_a_data_parallel_run_leases_all_its_devices(api: Any, setup: dict[str, Any]) -> None:
    first, second = _runs(api, setup, 2)
    leases = run_workers.acquire_devices(first, os.getpid(), GPUS, 2)
    assert leases and [lease.index for lease in leases] == [0, 1]
    assert run_workers.acquire_devices(second, os.getpid(), GPUS, 1) is None


def test_a_stale_lease_is_taken_over_and_reaped(api: Any, setup: dict[str, Any]) -> None:
    first, second, third = _runs(api, setup, 3)
    one = GPUS[:1]
    assert run_workers.acquire_devices(first, 999_999_001, one, 1)  # no such process on this host: dead
    assert run_workers.acquire_devices(second, os.getpid(), one, 1)
    assert list(DeviceLease.objects.values_list("run_id", flat=True)) == [second]
    DeviceLease.objects.update(host="elsewhere")  # a holder on another host: only its heartbeat counts
    run_workers.heartbeat(second, os.getpid())
    assert run_workers.reap_stale_leases() == 0
    DeviceLease.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert run_workers.reap_stale_leases() == 1 and not DeviceLease.objects.exists()
    assert run_workers.acquire_devices(third, os.getpid(), one, 1)


def test_a_finished_runs_lease_is_free(api: Any, setup: dict[str, Any]) -> None:
    first, second = _runs(api, setup, 2)
    assert run_workers.acquire_devices(first, os.getpid(), GPUS[:1], 1)
    run_services.finish_run(first, JobStatus.FAILED, error={"code": "error", "message": "x"})
    assert run_workers.acquire_devices(second, os.getpid(), GPUS[:1], 1)
    assert run_workers.reap_stale_leases() == 0  # the finished run's lease went to the second run


def test_heartbeat_keeps_a_lease_fresh(api: Any, setup: dict[str, Any]) -> None:
    (run_id,) = _runs(api, setup, 1)
    run_workers.acquire_devices(run_id, os.getpid(), GPUS[:1], 1)
    DeviceLease.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    run_workers.heartbeat(run_id, os.getpid())
    assert run_workers.reap_stale_leases() == 0 and DeviceLease.objects.filter(run_id=run_id).exists()


@pytest.mark.parametrize(("raw", "ok"), [("0", True), ("2", True), ("-1", False), ("two", False)])
def test_cpu_slots_are_read_loudly(monkeypatch: Any, raw: str, ok: bool) -> None:
    monkeypatch.setenv("VMB_TRAINING_CPU_SLOTS", raw)
    if ok:
        assert run_workers.cpu_slots() == int(raw)
    else:
        with pytest.raises(ValueError, match="VMB_TRAINING_CPU_SLOTS"):
            run_workers.cpu_slots()
