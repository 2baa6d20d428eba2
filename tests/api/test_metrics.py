"""/metrics: what operators scrape. Each test reads the page before and after real work (requests,
inference, database rows, Celery tasks in the live worker, an ingest) and checks the exact change of
the exact series, so series other tests move in the same session do not matter."""
# Inference is recorded by the serving app (serving/, through pipelines.serving.metrics): here its
# series are written by separate processes, as the serving workers write them.
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import resolve
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from domain.jobs.models import JobStatus
from domain.runs.models import TrainingRun
from tests.conftest import ROOT, poll
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db(transaction=True)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def scrape_http(base: str) -> Samples:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        return parse(response.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def changed(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# ---- HTTP requests -----------------------------------------------------------------------------
def test_requests_are_counted_per_view_and_status_class(api: APIClient) -> None:
    view = resolve("/api/v1/projects/").view_name
    before = scrape()
    assert [api.get("/api/v1/projects/").status_code for _ in range(2)] == [200, 200]
    assert api.get(f"/api/v1/no-such-thing-{uuid.uuid4().hex}/").status_code == 404
    after = scrape()
    assert changed(before, after, "vmb_http_requests_total", view=view, method="GET", status="2xx") == 2
    assert changed(before, after, "vmb_http_request_duration_seconds_count", view=view, method="GET") == 2
    assert changed(before, after, "vmb_http_request_duration_seconds_sum", view=view, method="GET") > 0
    # Unresolved paths share one series: the raw path never becomes a label.
    assert changed(before, after, "vmb_http_requests_total", view="<unresolved>", method="GET", status="4xx") == 1
    assert not any("no-such-thing" in str(labels) for _name, labels in after)


# ---- training runs -----------------------------------------------------------------------------
def test_training_runs_by_status_are_counted_at_scrape_time(alice: Any, settings: Any, tmp_path: Path) -> None:
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    before = scrape()
    finished = make_artifact(alice, "concat").run  # one succeeded run
    TrainingRun.objects.create(project=finished.project, graph_version=finished.graph_version,
                               dataset_version=finished.dataset_version, status=JobStatus.RUNNING,
                               config={"epochs": 1}, created_by=alice)
    after = scrape()
    assert changed(before, after, "vmb_training_runs", status="succeeded") == 1
    assert changed(before, after, "vmb_training_runs", status="running") == 1
    assert changed(before, after, "vmb_training_runs", status="queued") == 0
    # Every status is a series, zeros included, so a dashboard never sees one vanish.
    assert {dict(labels)["status"] for name, labels in after if name == "vmb_training_runs"} == set(JobStatus.values)


# ---- multiprocess ------------------------------------------------------------------------------
def test_inference_counts_of_several_processes_add_up_in_one_scrape() -> None:
    """Two processes record inference (as the serving app's workers do), one scrape reads both."""
    deployment = f"mp-{uuid.uuid4().hex[:8]}"
    code = ("import sys; from pipelines.serving.metrics import observe_inference\n"
            "for i in range(int(sys.argv[2])): observe_inference(sys.argv[1], i % 2 == 0, 0.002)")
    before = scrape()
    writers = [subprocess.Popen([sys.executable, "-c", code, deployment, str(n)], cwd=ROOT, env=dict(os.environ))
               for n in (3, 4)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    after = scrape()
    assert changed(before, after, "vmb_inference_requests_total", deployment=deployment) == 7
    assert changed(before, after, "vmb_inference_errors_total", deployment=deployment) == 1 + 2
    assert changed(before, after, "vmb_inference_request_duration_seconds_bucket", deployment=deployment,
                   le="0.0025") == 7
    # Each process its own files, named by host and pid: containers sharing the folder never collide.
    names = [p.name for p in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).iterdir()]
    assert all(any(n.startswith("counter_") and n.endswith(f"-{w.pid}.db") for n in names) for w in writers)


# ---- access ------------------------------------------------------------------------------------
def test_only_loopback_staff_or_the_token_may_read_the_metrics(make_user: Any, settings: Any) -> None:
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    settings.VMB_METRICS_TOKEN = ""
    refused = Client().get("/metrics", **remote)
    assert refused.status_code == 403 and refused.json()["field"] == "authorization"
    # A proxy on this machine connects from loopback too, but names whom it forwards.
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert Client().post("/metrics").status_code == 405
    staff = make_user("operator")
    staff.is_staff = True
    staff.save()
    session = Client()
    session.force_login(staff)
    assert session.get("/metrics", **remote).status_code == 200
    plain = Client()
    plain.force_login(make_user("someone"))
    assert plain.get("/metrics", **remote).status_code == 403

    settings.VMB_METRICS_TOKEN = "s3cret-scrape-token"
    missing = Client().get("/metrics", **remote)
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **remote).status_code == 401
    granted = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **remote)
    assert granted.status_code == 200 and b"vmb_training_runs" in granted.content


# ---- Celery, queue depth and ingest bytes, through the live worker -----------------------------
@pytest.mark.integration
def test_celery_tasks_queue_depth_and_ingest_bytes(live_stack: Any, alice: Any, tmp_path: Path) -> None:
    from django.conf import settings
    from django.core.files.storage import default_storage

    from config.celery_app import app
    from domain.datasets.models import DatasetVersion, Upload
    from domain.projects.services import create_project
    from tests.dataset_factories import table_csv
    from tests.integration.test_dataset_ingest import ingest, new_dataset, upload_in_process

    project = create_project(alice, name="metrics")
    before = scrape_http(live_stack.url)
    assert value(before, "vmb_celery_broker_up") == 1
    # Hold the gpu queue: the worker stops taking from it, so what is sent there waits in the broker.
    assert app.control.cancel_consumer("gpu", reply=True, timeout=10), "the live worker did not answer"
    try:
        app.send_task("projects.ping_project", args=[project.pk, "metrics"], queue="gpu")
        app.send_task("projects.ping_project", args=[0, "no such project"], queue="gpu")
        waiting = scrape_http(live_stack.url)
        assert changed(before, waiting, "vmb_celery_queue_length", queue="gpu") == 2
    finally:
        assert app.control.add_consumer("gpu", reply=True, timeout=10)
    task = "projects.ping_project"

    def both_ran() -> Samples | None:
        now = scrape_http(live_stack.url)
        ended = sum(changed(before, now, "vmb_celery_tasks_total", task=task, outcome=o) for o in ("success", "failure"))
        return now if ended >= 2 else None

    after = poll(both_ran, 60, f"two {task} tasks to end\n{live_stack.log_tail()}")
    assert changed(before, after, "vmb_celery_tasks_total", task=task, outcome="success") == 1
    assert changed(before, after, "vmb_celery_tasks_total", task=task, outcome="failure") == 1
    assert changed(before, after, "vmb_celery_task_duration_seconds_count", task=task) == 2
    assert value(after, "vmb_celery_queue_length", queue="gpu") == 0

    client = APIClient()
    client.force_authenticate(alice)
    source = table_csv(tmp_path / "t.csv").read_bytes()
    version = ingest(client, new_dataset(client, project, "table"), upload_in_process(client, source, "t.csv"),
                     {"target_column": "label"})
    poll(lambda: DatasetVersion.objects.get(pk=version).is_finished, 300, f"the ingest\n{live_stack.log_tail()}")
    assert DatasetVersion.objects.get(pk=version).status == "succeeded"
    shutil.rmtree(Path(settings.DATASETS_ROOT) / f"project-{project.pk}", ignore_errors=True)
    for upload in Upload.objects.filter(owner=alice).exclude(storage_name=""):
        shutil.rmtree(Path(default_storage.path(upload.storage_name)).parent, ignore_errors=True)
    ingested = scrape_http(live_stack.url)
    assert changed(before, ingested, "vmb_dataset_ingest_bytes_total", kind="table") == len(source)

    # The version is marked finished a moment before its task returns. At least one: the worker may
    # also run ingest tasks earlier tests of the session queued while no worker was up.
    def ingest_task_ended() -> bool:
        return changed(before, scrape_http(live_stack.url), "vmb_celery_tasks_total",
                       task="datasets.ingest_dataset_version", outcome="success") >= 1

    poll(ingest_task_ended, 30, "the ingest task's success to be counted")


# ---- make run ----------------------------------------------------------------------------------
def test_make_run_starts_the_metrics_at_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("vmb_run_script_metrics", ROOT / "scripts" / "run.py")
    assert spec is not None and spec.loader is not None
    run_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_script)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_host-12.db").write_bytes(b"old counts")
    (folder / "README").write_text("not a metrics file: kept")
    assert run_script.clear_metrics(tmp_path) == folder
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)  # what the children inherit
    assert sorted(p.name for p in folder.iterdir()) == ["README"]
