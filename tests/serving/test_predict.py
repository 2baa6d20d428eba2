"""POST /v2/models/{name}/predict (image, DICOM, bad files) and the binary tensor extension of
/infer, over HTTP to the serving app, with deployments prepared by the deploy task (called
in-process)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from domain.deploy import tasks as tasks_deploy
from tests.deploy_factories import artifact_from_package, make_artifact
from tests.pipelines.serving import helpers
from tests.serving_client import ServingServer, V2Client

pytestmark = pytest.mark.django_db(transaction=True)


def _ct_artifact(user: Any) -> Any:
    """A finished run of a 2D CT slice classifier with the recipe a DICOM ingest records."""
    recipe = helpers.ct_recipe("2d")
    package = helpers.package(helpers.ct_document("2d"), recipe, helpers.CT_CLASSES)
    return artifact_from_package(
        user, package, name="ct slices", dataset=("chest ct", "ct_dicom"), classes=helpers.CT_CLASSES,
        recipe={**recipe, "task": "classification"}, preprocessing=recipe, metrics={}, epochs=1)


def _deploy(api: APIClient, artifact: Any, name: str) -> tuple[dict, str]:
    model = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json").json()
    response = api.post("/api/v1/deployments/", {"model": model["id"], "name": name}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert tasks_deploy.prepare_deployment(body["deployment"]["id"]) == "succeeded"
    return body["deployment"], body["api_key"]


@pytest.fixture
def digits(api: APIClient, alice: Any, server: ServingServer) -> tuple[dict, V2Client]:
    deployment, key = _deploy(api, make_artifact(alice, "concat"), "digits")
    return deployment, server.client(key)


def _multipart(client: V2Client, url: str, name: str, data: bytes, content_type: str) -> Any:
    return client.multipart(url, {"file": (name, data, content_type)})


def test_predict_from_a_png_upload_and_a_raw_body(digits: tuple[dict, V2Client]) -> None:
    deployment, client = digits
    data, label = helpers.digit_png(1500)
    response = _multipart(client, "/v2/models/digits/predict", "seven.png", data, "image/png")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["label"] == str(label) and list(body["probabilities"])[0] == body["label"]
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-4 and body["model_version"] == deployment["version"]
    raw = client.generic("POST", f"/v2/models/digits/versions/{deployment['version']}/predict", data,
                         "image/png")
    assert raw.status_code == 200 and raw.json()["probabilities"] == body["probabilities"]


def test_predict_from_a_dicom_file(api: APIClient, alice: Any, server: ServingServer) -> None:
    _deployment, key = _deploy(api, _ct_artifact(alice), "chest")
    client = server.client(key)
    response = _multipart(client, "/v2/models/chest/predict", "slice.dcm", helpers.ct_small(), "application/dicom")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["label"] in helpers.CT_CLASSES and set(body["probabilities"]) == set(helpers.CT_CLASSES)
    raw = client.generic("POST", "/v2/models/chest/predict", helpers.ct_small(), "application/octet-stream")
    assert raw.status_code == 200 and raw.json()["probabilities"] == body["probabilities"]
    wrong = _multipart(client, "/v2/models/chest/predict", "x.png", helpers.digit_png(0)[0], "image/png")
    assert wrong.status_code == 415 and wrong.json()["field"] == "file"
    # A zip of one DICOM series: every slice answered, as for a NIfTI volume (the numbers are
    # checked against the ingest in tests/pipelines/serving/test_predict_series.py).
    series = _series_zip(("a",))
    zipped = _multipart(client, "/v2/models/chest/predict", "series.zip", series, "application/zip")
    assert zipped.status_code == 200, zipped.content
    assert zipped.json()["samples"] == 8 and set(zipped.json()["probabilities"]) == set(helpers.CT_CLASSES)
    two = _multipart(client, "/v2/models/chest/predict", "two.zip", _series_zip(("a", "b")), "application/zip")
    assert two.status_code == 400 and two.json()["code"] == "several_series", two.content
    assert two.json()["error"].startswith("file: 'two.zip': holds 2 series")


def _series_zip(folders: tuple[str, ...]) -> bytes:
    import io
    import zipfile

    from tests.ct_series import write_series

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            write_series(archive, folder, [0.0, 2.5, 5.0], shift=2)
    return buffer.getvalue()


@pytest.mark.parametrize(("payload", "content_type", "status", "field"), [
    (b"not an image at all" * 10, "image/png", 415, "body"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png", 400, "body"),
    (b"", "image/png", 400, "body"),
    (b'{"row": {"a": 1}}', "application/json", 415, "row"),
    (b"{not json", "application/json", 400, "body"),
])
def test_bad_predict_bodies(digits: tuple[dict, V2Client], payload: bytes, content_type: str, status: int,
                            field: str) -> None:
    _deployment, client = digits
    response = client.generic("POST", "/v2/models/digits/predict", payload, content_type)
    assert response.status_code == status and response.json()["field"] == field, response.content


def test_bad_predict_uploads(digits: tuple[dict, V2Client]) -> None:
    from domain.deploy import serving as deploy_serving
    from domain.deploy.models import Deployment

    deployment, client = digits
    truncated = _multipart(client, "/v2/models/digits/predict", "a.png", helpers.digit_png(0)[0][:50], "image/png")
    assert truncated.status_code == 400 and truncated.json()["field"] == "file"
    mismatch = _multipart(client, "/v2/models/digits/predict", "a.dcm", helpers.digit_png(0)[0], "application/dicom")
    assert mismatch.status_code == 415 and mismatch.json()["code"] == "type_mismatch"
    none = client.multipart("/v2/models/digits/predict", {"note": "no file"})
    assert none.status_code == 400 and none.json()["field"] == "file"
    unreadable = client.generic("POST", "/v2/models/digits/predict", b"--x\r\nnot a part", "multipart/form-data; boundary=x")
    assert unreadable.status_code == 400 and unreadable.json()["code"] == "invalid_multipart"
    assert V2Client(client.server, None).multipart("/v2/models/digits/predict", {}).status_code == 401
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=1000)
    deploy_serving.publish()  # a bulk update sends no signal
    big = _multipart(client, "/v2/models/digits/predict", "a.png", helpers.ct_small(), "image/png")
    assert big.status_code == 413 and big.json()["field"] == "body"


def _binary_body(x: np.ndarray, **extra: Any) -> tuple[bytes, int]:
    raw = x.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "image", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}], **extra}).encode()
    return header + raw, len(header)


def test_infer_with_binary_tensors(digits: tuple[dict, V2Client]) -> None:
    _deployment, client = digits
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    as_json = client.post("/v2/models/digits/infer", {"inputs": [{"name": "image", "shape": [3, 1, 8, 8],
                          "datatype": "FP32", "data": x.ravel().tolist()}]}, format="json").json()
    body, length = _binary_body(x)
    response = client.generic("POST", "/v2/models/digits/infer", body, "application/octet-stream",
                              HTTP_INFERENCE_HEADER_CONTENT_LENGTH=str(length))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["outputs"] == as_json["outputs"]
    body, length = _binary_body(x, outputs=[{"name": "logits", "parameters": {"binary_data": True}}])
    response = client.generic("POST", "/v2/models/digits/infer", body, "application/octet-stream",
                              HTTP_INFERENCE_HEADER_CONTENT_LENGTH=str(length))
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    split = int(response["Inference-Header-Content-Length"])
    header = json.loads(response.content[:split])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 3 * 10 * 4
    values = np.frombuffer(response.content[split:], dtype="<f4")
    assert np.allclose(values, as_json["outputs"][0]["data"], atol=1e-6)
    assert "binary_tensor_data" in V2Client(client.server, None).get("/v2/").json()["extensions"]


@pytest.mark.parametrize(("header", "cut", "field"), [
    ("twelve", 0, "Inference-Header-Content-Length"),
    ("99999999", 0, "Inference-Header-Content-Length"),
    (None, 8, "inputs[0].parameters.binary_data_size"),
])
def test_malformed_binary_infer(digits: tuple[dict, V2Client], header: str | None, cut: int, field: str) -> None:
    _deployment, client = digits
    body, length = _binary_body(np.zeros((1, 1, 8, 8), dtype=np.float32))
    response = client.generic("POST", "/v2/models/digits/infer", body[:len(body) - cut],
                              "application/octet-stream",
                              HTTP_INFERENCE_HEADER_CONTENT_LENGTH=header if header is not None else str(length))
    assert response.status_code == 400 and response.json()["field"] == field, response.content
