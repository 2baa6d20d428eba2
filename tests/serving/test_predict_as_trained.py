"""/predict takes an input as it comes in the dataset and applies the preprocessing training used.

The digits sample is ingested (8x8 PNGs), LeNet-5 (which expects 32x32) is trained on it for real
(the run plans a resize to 32x32), the model made at success is deployed, and the raw 8x8 PNG from
the dataset is posted to the real serving app: its answer equals the answer /infer gives for the
tensor training made of that PNG (the ingested cache sample, scaled and resized by the training
loader's own transforms). All tasks run in-process."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.datasets.services import cache_folder
from domain.datasets.tasks import ingest_dataset_version
from domain.deploy import tasks as tasks_deploy
from domain.runs.models import TrainingRun
from domain.runs.tasks import train_run
from pipelines.datasets.loader import CachedDataset
from pipelines.datasets.samples import write_digits
from pipelines.serving.predict import softmax
from pipelines.training.data import resize_to
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)
FAST = {"epochs": 2, "batch_size": 32, "optimizer": {"lr": 5e-3}, "device": {"kind": "cpu"}}


@pytest.fixture
def lenet_on_digits(api: APIClient, tmp_path: Path) -> dict[str, Any]:
    """LeNet-5 trained on the ingested 8x8 digits, its model deployed; the run and the deployment."""
    project = api.post("/api/v1/projects/", {"name": "digits"}, format="json").json()["id"]
    graph = api.post("/api/v1/graphs/from-template/", {"project": project, "template": "lenet5"}, format="json")
    graph_version = api.get(f"/api/v1/graphs/{graph.json()['id']}/versions/").json()["results"][0]["id"]
    version = api.post("/api/v1/datasets/from-sample/", {"project": project, "sample": "digits"}, format="json")
    assert version.status_code in (201, 202), version.content
    ingest_dataset_version(version.json()["id"])
    response = api.post("/api/v1/runs/", {"graph_version": graph_version, "dataset_version": version.json()["id"],
                                          "config": FAST}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert train_run(run_id)["status"] == "succeeded", api.get(f"/api/v1/runs/{run_id}/").json()["error"]
    run = TrainingRun.objects.get(pk=run_id)
    assert run.plan["resize"] == [32, 32]  # the graph expects 32x32; the data is 8x8
    models = api.get(f"/api/v1/models/?project={project}").json()["results"]
    assert len(models) == 1  # made at success
    created = api.post("/api/v1/deployments/", {"model": models[0]["id"], "name": "lenet-digits"}, format="json")
    assert created.status_code == 201, created.content
    assert tasks_deploy.prepare_deployment(created.json()["deployment"]["id"]) == "succeeded"
    return {"run": run, "model": models[0], "key": created.json()["api_key"]}


def _dataset_pngs(tmp_path: Path, count: int) -> list[tuple[str, bytes]]:
    """The first ``count`` PNGs of the digits sample as it is uploaded (the same zip ingest read)."""
    with zipfile.ZipFile(write_digits(tmp_path)) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))[:count]
        return [(n, archive.read(n)) for n in names]


def _training_tensor(run: TrainingRun, png: bytes) -> np.ndarray:
    """The tensor training fed the model for this PNG: its ingested cache sample through the
    training loader (uint8 scaled to 0-1) and the run's planned resize."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)))
    cache = cache_folder(run.dataset_version)
    stored = np.load(cache / "inputs.npy", mmap_mode="r")
    index = int(np.flatnonzero((stored.reshape(len(stored), -1) == pixels.reshape(1, -1)).all(axis=1))[0])
    splits = np.load(cache / "splits.npy")
    split = ("train", "val", "test")[int(splits[index])]
    position = int(np.flatnonzero(splits == splits[index]).tolist().index(index))
    x, _y = CachedDataset(cache, split)[[position]]
    return resize_to(tuple(run.plan["resize"]))(x).numpy()


def test_a_raw_8x8_png_is_answered_as_training_saw_it(lenet_on_digits: dict[str, Any], server: ServingServer,
                                                      tmp_path: Path) -> None:
    client = server.client(lenet_on_digits["key"])
    card = lenet_on_digits["model"]["card"]
    spec = card["inputs"][0]
    assert spec["shape"] == [-1, 1, 32, 32]
    assert spec["preprocessing"]["size"] == [8, 8] and spec["preprocessing"]["resize"] == [32, 32]
    agree = 0
    for name, png in _dataset_pngs(tmp_path, 12):
        predicted = client.generic("POST", "/v2/models/lenet-digits/predict", png, "image/png")
        assert predicted.status_code == 200, predicted.content
        tensor = _training_tensor(lenet_on_digits["run"], png)
        assert tensor.shape == (1, 1, 32, 32)
        inferred = client.post("/v2/models/lenet-digits/infer", {"inputs": [{
            "name": spec["name"], "shape": list(tensor.shape), "datatype": "FP32",
            "data": tensor.ravel().tolist()}]}, format="json")
        assert inferred.status_code == 200, inferred.content
        logits = np.asarray(inferred.json()["outputs"][0]["data"], dtype=np.float64).reshape(1, -1)
        expected = softmax(logits)[0]
        answer = predicted.json()
        got = np.array([answer["probabilities"][c] for c in card["classes"]])
        assert np.abs(got - expected).max() < 1e-5, name
        assert answer["label"] == card["classes"][int(expected.argmax())]
        agree += answer["label"] == name.split("/")[1]  # digits/<label>/<index>.png
    assert agree >= 6  # a real model: two epochs already classify most digits
    # As a file part of a form (what the shown curl -F sends), the same answer.
    form = client.multipart("/v2/models/lenet-digits/predict", {"file": ("digit.png", png, "image/png")})
    assert form.status_code == 200 and form.json()["probabilities"] == answer["probabilities"]

