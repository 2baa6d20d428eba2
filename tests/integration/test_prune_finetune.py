"""Pruning with fine-tuning epochs, end to end with a real Celery worker: LeNet-5 trained on the
ingested digits sample, pruned to half its channels, and the fine-tuning started as a normal
training run of the pruned graph version, from the pruned weights, that gets its accuracy back."""
from __future__ import annotations

import time
from typing import Any

import pytest

from domain.runs.models import RunEvent
from tests.integration.test_training import _finished, _start, trainer  # noqa: F401  (trainer is a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_model(client: Any, model_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/models/{model_id}/").json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"model {model_id} stayed {body['status']}")


def test_pruning_starts_a_finetuning_run_of_the_pruned_graph(trainer: dict[str, Any]) -> None:  # noqa: F811
    client = trainer["client"]
    trained_run = _finished(client, _start(trainer, epochs=4, seed=2))
    assert trained_run["status"] == "succeeded"
    trained = client.post("/api/v1/models/", {"run": trained_run["id"]}, format="json").json()
    response = client.post(f"/api/v1/models/{trained['id']}/prune/", {"config": {
        "method": "l2", "scope": "uniform", "ratio": 0.5, "finetune_epochs": 2}}, format="json")
    assert response.status_code == 202, response.json()
    pruned = _wait_model(client, response.json()["id"])
    assert pruned["status"] == "succeeded", pruned["error"]
    assert pruned["report"]["ratios"]["params"] > 2, pruned["report"]
    run_id = pruned["report"]["finetune_run"]

    tuned = _finished(client, run_id)
    assert tuned["status"] == "succeeded", tuned
    assert tuned["graph_version"] == pruned["graph_version"]  # the pruned graph, not the original
    assert tuned["config"]["epochs"] == 2 and tuned["config"]["init_weights"]["model"] == pruned["id"]
    assert tuned["config"]["optimizer"]["lr"] == pytest.approx(trained_run["config"]["optimizer"]["lr"] / 10)
    logs = [e.data["message"] for e in RunEvent.objects.filter(run_id=run_id, type="run.log")]
    assert any(m.startswith("started from pretrained weights") and ", 0 initialised afresh" in m for m in logs), logs
    # Starting from the pruned weights, two short epochs are enough to be a useful classifier again.
    assert tuned["test_metrics"]["accuracy"] >= 0.9, tuned["test_metrics"]
    # The fine-tuning run's result is a model at once, made from the pruned one, with its own figures.
    models = client.get(f"/api/v1/models/?project={pruned['project']}").json()["results"]
    tuned_model = next(m for m in models if m["run"] == run_id)
    assert tuned_model["kind"] == "trained" and tuned_model["parent"] == pruned["id"]
    assert tuned_model["card"]["metrics"]["test"]["accuracy"] == tuned["test_metrics"]["accuracy"]
