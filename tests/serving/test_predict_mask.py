"""POST /v2/models/{name}/predict on a deployed CT segmentation model answers a NIfTI mask file
(application/gzip) on the upload's grid, over HTTP to the serving app."""
from __future__ import annotations

import gzip
import json
from typing import Any

import nibabel
import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.deploy import tasks as tasks_deploy
from pipelines.export.package import ModelPackage, make_card
from tests.deploy_factories import artifact_from_package
from tests.pipelines.serving import helpers
from tests.pipelines.serving.test_segment import AFFINES, upload
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)


def _segmenter(user: Any) -> Any:
    import torch

    from builder.graph import compile_graph

    document = {"schema_version": 1, "name": "lesions", "nodes": [
        {"id": "ct", "type": "volume_input", "params": {"channels": 1, "depth": 8, "height": 16, "width": 16}},
        {"id": "mask_logits", "type": "conv3d", "params": {"out_channels": 2, "kernel_size": 1}}],
        "edges": [{"source": "ct", "target": "mask_logits"}]}
    weights = compile_graph(document).state_dict()
    weights["mask_logits.weight"] = torch.tensor([-10.0, 10.0]).reshape(2, 1, 1, 1, 1)
    weights["mask_logits.bias"] = torch.tensor([6.5, -6.5])
    recipe = {**helpers.ct_recipe("3d"), "task": "segmentation", "target": "mask"}
    classes = ["background", "lesion"]
    package = ModelPackage(document, weights, make_card(document, name="lesions", task="segmentation",
                                                        classes=classes, preprocessing=recipe))
    return artifact_from_package(user, package, name="lesions", dataset=("chest ct", "ct_nifti"), classes=classes,
                                 recipe=recipe, preprocessing=recipe, metrics={}, epochs=1)


def test_predict_returns_a_nifti_mask(api: APIClient, alice: Any, server: ServingServer) -> None:
    model = api.post("/api/v1/models/", {"run": _segmenter(alice).run_id}, format="json").json()
    response = api.post("/api/v1/deployments/", {"model": model["id"], "name": "lesions"}, format="json")
    assert response.status_code == 201, response.content
    assert tasks_deploy.prepare_deployment(response.json()["deployment"]["id"]) == "succeeded"
    client = server.client(response.json()["api_key"])
    data, box = upload(AFFINES[1])
    answer = client.multipart("/v2/models/lesions/predict", {"file": ("scan.nii.gz", data, "application/gzip")})
    assert answer.status_code == 200, answer.content
    assert answer["content-type"] == "application/gzip"
    assert answer["content-disposition"] == 'attachment; filename="lesions-mask.nii.gz"'
    mask = nibabel.Nifti1Image.from_bytes(gzip.decompress(answer.content))
    assert mask.shape == box.shape and np.allclose(mask.affine, AFFINES[1])
    labels = np.asarray(mask.dataobj)
    assert json.loads(answer["x-mask-classes"]) == ["background", "lesion"]
    assert json.loads(answer["x-mask-voxels"])["lesion"] == int((labels == 1).sum()) > 0
    assert json.loads(answer["x-mask-shape"]) == list(box.shape)
    refused = client.multipart("/v2/models/lesions/predict", {"file": ("x.png", helpers.png(np.zeros((8, 8), np.uint8)),
                                                                       "image/png")})
    assert refused.status_code == 415 and "NIfTI" in refused.content.decode()
