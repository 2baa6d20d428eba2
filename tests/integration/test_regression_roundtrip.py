"""A price table end to end in the data's own units: uploaded and ingested by a real worker, the
tabular MLP trained through the API (target standardised by default), the model deployed, and a
row sent to /predict and /infer over HTTP on the real ASGI server: the answers are prices (mean
2e5, std 5e4), close to the row's own price, and the run's metrics and the model card are in
the same units."""
from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.conftest import poll
from tests.integration.test_dataset_ingest import finished, ingest, new_dataset, upload_in_process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
FEATURES = 4


def _price_rows(rows: int = 800) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, FEATURES))
    signal = x @ np.array([0.7, -0.5, 0.4, 0.2]) + 0.05 * rng.normal(size=rows)
    price = 2e5 + 5e4 * (signal - signal.mean()) / signal.std()
    return [f"f{i}" for i in range(FEATURES)], x, price


def _csv(names: list[str], x: np.ndarray, price: np.ndarray) -> bytes:
    lines = [",".join([*names, "price"])]
    lines += [",".join([*(f"{v:.6f}" for v in row), f"{p:.2f}"]) for row, p in zip(x, price, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _http(url: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait(client: APIClient, url: str, stack: Any, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body.get("status") in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{url} stayed {body.get('status')}:\n{stack.log_tail()}")


def test_a_price_table_round_trips_in_its_own_units(live_stack: Any, tmp_path: Path) -> None:
    user = get_user_model().objects.create_user(username=f"rg{time.monotonic_ns()}", password="correct-horse-battery")
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    project_id = client.post("/api/v1/projects/", {"name": "prices"}, format="json").json()["id"]
    try:
        _round_trip(client, project_id, live_stack)
    finally:
        shutil.rmtree(Path(settings.DATASETS_ROOT) / f"project-{project_id}", ignore_errors=True)


def train_price_run(client: APIClient, project_id: int, stack: Any, epochs: int = 8
                    ) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, Any], dict[str, Any]]:
    """Upload and ingest the price table, train the tabular MLP on it through the API (a real
    worker); returns the columns, the rows, the prices, the dataset version and the finished run."""
    from domain.projects.models import Project

    names, x, price = _price_rows()
    project = Project.objects.get(pk=project_id)
    upload = upload_in_process(client, _csv(names, x, price), "prices.csv")
    version_id = ingest(client, new_dataset(client, project, "table"), upload,
                        {"target_column": "price", "task": "regression"})
    version = finished(client, version_id, stack)
    assert version["status"] == "succeeded" and version["task"] == "regression", version
    stats = version["recipe"]["target_scaling"]
    assert stats["split"] == "train" and stats["count"] < len(price) and 1.8e5 < stats["mean"] < 2.2e5

    graph = client.post("/api/v1/graphs/from-template/", {"project": project_id, "template": "tabular_mlp"},
                        format="json").json()["id"]
    first = client.get(f"/api/v1/graphs/{graph}/versions/").json()["results"][0]["id"]
    document = client.get(f"/api/v1/graphs/{graph}/versions/{first}/").json()["document"]
    for node in document["nodes"]:
        if node["id"] == "features":
            node["params"]["features"] = len(version["recipe"]["features"])
        if node["id"] == "logits":
            node["params"]["out_features"] = 1
    graph_version = client.post(f"/api/v1/graphs/{graph}/versions/", {"document": document}, format="json").json()["id"]

    created = client.post("/api/v1/runs/", {"graph_version": graph_version, "dataset_version": version_id,
                                            "config": {"task": "regression", "epochs": epochs,
                                                       "device": {"kind": "cpu"}}},
                          format="json")
    assert created.status_code == 202, created.json()
    assert created.json()["plan"]["target_transform"]["mean"] == pytest.approx(stats["mean"])
    run = poll(lambda: (r := client.get(f"/api/v1/runs/{created.json()['id']}/").json())["status"] in
               ("succeeded", "failed", "cancelled") and r, 240, "the regression run to end")
    assert run["status"] == "succeeded", (run["error"], stack.log_tail())
    return names, x, price, version, run


def _round_trip(client: APIClient, project_id: int, stack: Any) -> None:
    names, x, price, version, run = train_price_run(client, project_id, stack)
    test = run["test_metrics"]
    assert test["r2"] > 0.9 and 1e3 < test["rmse"] < 2e4, test  # a price's error, not a z-score's
    assert len(test["predicted_vs_actual"]["actual"]) == test["predicted_vs_actual"]["total"] > 0
    assert sum(test["residual_histogram"]["counts"]) == test["predicted_vs_actual"]["total"]

    model = client.post("/api/v1/models/", {"run": run["id"]}, format="json").json()
    assert model["card"]["target_transform"]["kind"] == "standardize"
    assert model["card"]["metrics"]["test"]["rmse"] == pytest.approx(test["rmse"])
    deployed = client.post("/api/v1/deployments/", {"model": model["id"], "name": "prices-live"}, format="json").json()
    key = deployed["api_key"]
    deployment = _wait(client, f"/api/v1/deployments/{deployed['deployment']['id']}/", stack)
    assert deployment["status"] == "succeeded", deployment["error"]

    # A row of the table: the answer is its price, within the model's error, in dollars.
    row = {name: float(value) for name, value in zip(names, x[0], strict=True)}
    status, answer = _http(f"{stack.url}/v2/models/prices-live/predict", key, {"row": row})
    assert status == 200, answer
    assert 5e4 < answer["value"] < 4e5 and abs(answer["value"] - price[0]) < 4 * test["rmse"], (answer, price[0])
    encoded = [(v - f["mean"]) / f["std"] for v, f in zip(x[0], version["recipe"]["encoding"]["features"], strict=True)]
    status, inferred = _http(f"{stack.url}/v2/models/prices-live/infer", key, {"inputs": [
        {"name": "features", "shape": [1, len(encoded)], "datatype": "FP32", "data": encoded}]})
    assert status == 200, inferred
    assert inferred["outputs"][0]["data"][0] == pytest.approx(answer["value"], rel=1e-4)
