"""3-D segmentation through the product: a ct_nifti zip of volumes and masks uploaded and ingested
(a bad mask skipped by name), the unet3d template trained by the run task, per-class Dice and IoU
on the run, and the deployed model's /predict answering a NIfTI mask."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.datasets.tasks import ingest_dataset_version
from domain.deploy import tasks as tasks_deploy
from domain.runs.tasks import train_run
from tests.api.test_datasets import upload
from tests.pipelines.test_volume_masks import archive, case, nifti
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_volumes_with_masks_train_a_unet3d_that_predicts_a_nifti_mask(api: APIClient, tmp_path: Path,
                                                                       server: ServingServer) -> None:
    project = api.post("/api/v1/projects/", {"name": "lesions"}, format="json").json()["id"]
    dataset = api.post("/api/v1/datasets/", {"project": project, "name": "ct masks", "kind": "ct_nifti"},
                       format="json").json()["id"]
    bad = nifti(np.zeros((12, 10, 7), np.uint8), dtype=np.uint8)
    data = archive(tmp_path / "a.zip", cases=10, **{"ct/masks/case9.nii.gz": bad}).read_bytes()
    upload_id = upload(api, data, "a.zip", chunk=1 << 20).rstrip("/").rsplit("/", 1)[-1]
    options = {"volume_shape": [8, 12, 12], "val_fraction": 0.2, "test_fraction": 0.2}
    version = api.post(f"/api/v1/datasets/{dataset}/versions/", {"upload": upload_id, "options": options}, format="json")
    assert version.status_code == 202, version.content
    assert ingest_dataset_version(version.json()["id"])["status"] == "succeeded"
    ingested = api.get(f"/api/v1/dataset-versions/{version.json()['id']}/").json()
    assert ingested["task"] == "segmentation" and ingested["classes"] == ["0", "1"]
    skipped = {s["file"]: s for s in ingested["skipped"]}
    assert skipped["ct/masks/case9.nii.gz"]["code"] == "mask_shape_mismatch"
    assert "12x10x7" in skipped["ct/masks/case9.nii.gz"]["reason"]

    graph = api.post("/api/v1/graphs/from-template/", {"project": project, "template": "unet3d"}, format="json").json()
    first = api.get(f"/api/v1/graphs/{graph['id']}/versions/").json()["results"][0]["id"]
    document = api.get(f"/api/v1/graphs/{graph['id']}/versions/{first}/").json()["document"]
    volume_input = next(n for n in document["nodes"] if n["type"] == "volume_input")
    volume_input["params"].update(depth=8, height=12, width=12)
    graph_version = api.post(f"/api/v1/graphs/{graph['id']}/versions/", {"document": document}, format="json")
    assert graph_version.status_code == 201, graph_version.content
    config = {"task": "segmentation", "loss": "dice_cross_entropy", "epochs": 2, "batch_size": 2,
              "optimizer": {"lr": 3e-3}, "device": {"kind": "cpu"}}
    run = api.post("/api/v1/runs/", {"graph_version": graph_version.json()["id"],
                                     "dataset_version": version.json()["id"], "config": config}, format="json")
    assert run.status_code == 202, run.content
    assert train_run(run.json()["id"])["status"] == "succeeded"
    finished = api.get(f"/api/v1/runs/{run.json()['id']}/").json()
    test = finished["test_metrics"]
    assert len(test["dice_per_class"]) == 2 and len(test["iou_per_class"]) == 2 and 0 <= test["dice"] <= 1
    assert finished["plan"]["classes"] == ["0", "1"]

    model = api.get(f"/api/v1/models/?project={project}").json()["results"][0]
    assert model["card"]["task"] == "segmentation"
    created = api.post("/api/v1/deployments/", {"model": model["id"], "name": "lesions"}, format="json")
    assert created.status_code == 201, created.content
    assert tasks_deploy.prepare_deployment(created.json()["deployment"]["id"]) == "succeeded"
    client = server.client(created.json()["api_key"])
    volume, _ = case(4)
    answer = client.multipart("/v2/models/lesions/predict", {"file": ("scan.nii.gz", nifti(volume), "application/gzip")})
    assert answer.status_code == 200, answer.content
    assert answer["content-type"] == "application/gzip"
    mask: Any = nibabel.Nifti1Image.from_bytes(gzip.decompress(answer.content))
    assert mask.shape == volume.shape and np.asarray(mask.dataobj).dtype == np.uint8
    np.testing.assert_allclose(mask.affine, np.diag([1.5, 1.0, 2.0, 1.0]))
