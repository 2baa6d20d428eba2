"""The two scenarios of ``dynamic`` precision through the API and a real worker.

(a) A table of raw values around 1e5 (ingested with ``feature_scaling: none``), an MLP trained in
fp32, fixed fp16 and dynamic (fp16). Fixed fp16 overflows (its input cast is Inf) and ends at
least 5 points under fp32 or fails; dynamic moves the overflowing layers to fp32, records why, and
ends within 0.5 points of fp32 with most FLOPs in fp16. The run record says how its peak memory
was measured.

(b) A regression table whose target is 1000 plus a signal of spread ~2, trained on the raw target
(``target_scaling: none``, so ``output_bias: auto`` starts the output at the targets' mean). bf16
rounds values near 1000 to multiples of 4: fixed bf16's test RMSE is at least twice fp32's;
dynamic (bf16) moves the output layer to fp32 for the signal it loses and ends within 10% of fp32.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from bench.precision_scenarios import FEATURES, OFFSET, mlp
from domain.runs.models import TrainingRun
from domain.runs.services import run_folder
from tests.conftest import poll
from tests.integration.test_dataset_ingest import finished, ingest, upload_in_process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CONFIG = {"task": "classification", "epochs": 6, "batch_size": 32, "optimizer": {"lr": 3e-3},
          "schedule": {"name": "cosine"}, "device": {"kind": "cpu"}, "seed": 0, "stats_every": 10_000}


def _raw_table(path: Path, rows: int = 2000) -> Path:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((rows, 8))
    label = (z[:, 0] + z[:, 1] - z[:, 2] > 0).astype(int)
    lines = [",".join([f"f{i}" for i in range(8)] + ["label"])]
    lines += [",".join([f"{1e5 + 1e4 * v:.3f}" for v in row] + [str(c)]) for row, c in zip(z, label, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def overflow_runs(client: APIClient, project_id: int, live_stack: Any, folder: Path,
                  modes: tuple[str, ...] = ("fp32", "fp16", "dynamic")) -> dict[str, dict[str, Any]]:
    """Ingest the raw table into ``project_id``, save the scenario's MLP and train it once per mode
    (dynamic: fp16) through the API; returns each finished run's JSON."""
    dataset = client.post("/api/v1/datasets/", {"project": project_id, "name": "raw", "kind": "table"},
                          format="json").json()["id"]
    version = ingest(client, dataset, upload_in_process(client, _raw_table(folder / "raw.csv").read_bytes(), "raw.csv"),
                     {"target_column": "label", "feature_scaling": "none", "val_fraction": 0.15,
                      "test_fraction": 0.2})
    table = finished(client, version, live_stack)
    assert table["status"] == "succeeded", table
    assert all(f["mean"] == 0.0 and f["std"] == 1.0 for f in table["recipe"]["encoding"]["features"])
    graph = client.post("/api/v1/graphs/", {"project": project_id, "name": "mlp"}, format="json").json()["id"]
    graph_version = client.post(f"/api/v1/graphs/{graph}/versions/", {"document": mlp(2)}, format="json").json()["id"]
    body = {"graph_version": graph_version, "dataset_version": version}
    precisions = {"fp32": {"precision_mode": "fp32"}, "fp16": {"precision_mode": "fp16"},
                  "dynamic": {"precision_mode": "dynamic", "low_dtype": "fp16"}}
    runs = {}
    for mode in modes:
        response = client.post("/api/v1/runs/", {**body, "config": {**CONFIG, "precision": precisions[mode]}},
                               format="json")
        assert response.status_code == 202, response.json()
        runs[mode] = response.json()["id"]
    return {mode: poll(lambda r=run_id: (got := client.get(f"/api/v1/runs/{r}/").json())["status"] in
                       ("succeeded", "failed", "cancelled") and got, 400, f"run {mode}")
            for mode, run_id in runs.items()}


def clean_up(project_id: int) -> None:
    for run in TrainingRun.objects.filter(project_id=project_id):
        shutil.rmtree(run_folder(run), ignore_errors=True)
    shutil.rmtree(Path(settings.DATASETS_ROOT) / f"project-{project_id}", ignore_errors=True)


def test_overflow_scenario_through_the_api(live_stack: Any, tmp_path: Path) -> None:
    user = get_user_model().objects.create_user(username=f"dp{time.monotonic_ns()}", password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    project_id = client.post("/api/v1/projects/", {"name": "overflow"}, format="json").json()["id"]
    try:
        done = overflow_runs(client, project_id, live_stack, tmp_path)
        fp32, fp16, dynamic = done["fp32"], done["fp16"], done["dynamic"]
        assert fp32["status"] == "succeeded" and fp32["test_metrics"]["accuracy"] > 0.9, fp32
        assert fp16["status"] == "failed" or fp16["test_metrics"]["accuracy"] <= fp32["test_metrics"]["accuracy"] - 0.05
        assert dynamic["status"] == "succeeded", dynamic["error"]
        gap = abs(dynamic["test_metrics"]["accuracy"] - fp32["test_metrics"]["accuracy"])
        assert gap <= 0.005, (dynamic["test_metrics"], fp32["test_metrics"])
        report = dynamic["precision"]
        assert report["low_dtype"] == "fp16" and report["layers"]["fc1"] == "fp32"
        assert report["low_precision_flops_share"] >= 0.5
        reasons = {d["layer"]: d["reason"] for d in report["decisions"] if d["to"] == "fp32"}
        assert reasons["fc1"] == "overflow", report["decisions"]
        assert report["error_history"] and "fc1" in report["error_history"][0]["errors"]
        epochs = [e["data"] for e in client.get(f"/api/v1/runs/{dynamic['id']}/events/").json()
                  if e["type"] == "run.epoch"]
        assert epochs and all(e["peak_bytes"] > 0 and e["peak_bytes_method"] == "profiler.cpu_live_bytes"
                              and e["saved_tensor_bytes"] > 0 for e in epochs)
    finally:
        clean_up(project_id)


def _offset_table(path: Path, rows: int = 1200) -> Path:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((rows, FEATURES))
    w = np.array([1.2, -0.8, 0.6, 0.5, -0.4, 0.3, 0.2, -0.1])
    lines = [",".join([f"f{i}" for i in range(FEATURES)] + ["target"])]
    lines += [",".join([f"{v:.5f}" for v in row] + [f"{OFFSET + row @ w:.5f}"]) for row in z]
    path.write_text("\n".join(lines) + "\n")
    return path


def offset_runs(client: APIClient, project_id: int, live_stack: Any, folder: Path) -> dict[str, dict[str, Any]]:
    """Ingest the offset table into ``project_id`` and train the scenario's MLP on the raw target
    in fp32, bf16 and dynamic (bf16) through the API; returns each finished run's JSON."""
    dataset = client.post("/api/v1/datasets/", {"project": project_id, "name": "offset", "kind": "table"},
                          format="json").json()["id"]
    upload = upload_in_process(client, _offset_table(folder / "offset.csv").read_bytes(), "offset.csv")
    version = ingest(client, dataset, upload, {"target_column": "target", "task": "regression",
                                               "val_fraction": 0.15, "test_fraction": 0.15})
    table = finished(client, version, live_stack)
    assert table["status"] == "succeeded" and table["task"] == "regression", table
    graph = client.post("/api/v1/graphs/", {"project": project_id, "name": "mlp"}, format="json").json()["id"]
    graph_version = client.post(f"/api/v1/graphs/{graph}/versions/", {"document": mlp(1)}, format="json").json()["id"]
    # Three epochs keep the three runs small; fixed bf16 stays ~5x fp32's error, dynamic ~1.0x.
    config = {**CONFIG, "task": "regression", "epochs": 3, "target_scaling": "none"}
    precisions = {"fp32": {"precision_mode": "fp32"}, "bf16": {"precision_mode": "bf16"},
                  "dynamic": {"precision_mode": "dynamic", "low_dtype": "bf16"}}
    runs = {}
    for mode, precision in precisions.items():
        response = client.post("/api/v1/runs/", {"graph_version": graph_version, "dataset_version": version,
                                                 "config": {**config, "precision": precision}}, format="json")
        assert response.status_code == 202, response.json()
        assert response.json()["config"]["output_bias"] == "auto"
        runs[mode] = response.json()["id"]
    return {mode: poll(lambda r=run_id: (got := client.get(f"/api/v1/runs/{r}/").json())["status"] in
                       ("succeeded", "failed", "cancelled") and got, 400, f"run {mode}")
            for mode, run_id in runs.items()}


def test_offset_scenario_through_the_api(live_stack: Any, tmp_path: Path) -> None:
    user = get_user_model().objects.create_user(username=f"dq{time.monotonic_ns()}", password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    project_id = client.post("/api/v1/projects/", {"name": "offset"}, format="json").json()["id"]
    try:
        done = offset_runs(client, project_id, live_stack, tmp_path)
        for mode, run in done.items():
            assert run["status"] == "succeeded", (mode, run["error"], live_stack.log_tail())
        rmse = {mode: run["test_metrics"]["rmse"] for mode, run in done.items()}
        assert rmse["fp32"] < 0.5, rmse  # the signal's spread is ~1.8: fp32 learns it
        assert rmse["bf16"] >= 2 * rmse["fp32"], rmse
        assert rmse["dynamic"] <= 1.1 * rmse["fp32"], rmse
        report = done["dynamic"]["precision"]
        assert report["low_dtype"] == "bf16" and report["layers"]["out"] == "fp32", report["layers"]
        reasons = {d["layer"]: d["reason"] for d in report["decisions"] if d["to"] == "fp32"}
        assert reasons.get("out") == "signal", report["decisions"]
        assert report["low_precision_flops_share"] >= 0.5, report["low_precision_flops_share"]
        logs = [e["data"]["message"] for e in client.get(f"/api/v1/runs/{done['fp32']['id']}/events/").json()
                if e["type"] == "run.log"]
        started = [m for m in logs if m.startswith("output layer 'out' bias starts at the training targets' mean")]
        assert len(started) == 1, logs
        assert abs(float(started[0].rsplit("(", 1)[1].rstrip(")")) - OFFSET) < 0.5, started
    finally:
        clean_up(project_id)
