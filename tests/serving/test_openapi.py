"""The Open Inference Protocol's own OpenAPI document (serving/openapi.json): a valid OpenAPI 3
document, served at /v2/openapi.json, naming every path the app answers, and true of real answers."""
from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from serving.app import OPENAPI_FILE
from tests.api.test_deploy import _deploy, _infer_body
from tests.serving_client import ServingServer

pytestmark = pytest.mark.django_db(transaction=True)


def _schema(doc: dict, name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}


def test_the_document_is_valid_and_served(server: ServingServer) -> None:
    doc = json.loads(OPENAPI_FILE.read_text())
    validate(doc)
    served = server.request("GET", "/v2/openapi.json")
    assert served.status_code == 200 and served.json() == doc
    assert set(doc["paths"]) == {
        "/v2", "/v2/health/live", "/v2/health/ready", "/v2/openapi.json",
        *(f"/v2/models/{{model_name}}{v}{a}" for v in ("", "/versions/{model_version}")
          for a in ("", "/ready", "/infer", "/predict"))}


def test_real_answers_match_the_document(api: APIClient, model: dict, server: ServingServer) -> None:
    doc = json.loads(OPENAPI_FILE.read_text())
    deployment, key = _deploy(api, model["id"])
    checks = [
        (server.request("GET", "/v2/"), "MetadataServerResponse"),
        (server.request("GET", "/v2/health/ready"), "ServerReadyResponse"),
        (server.request("GET", "/v2/models/digits", key=key), "MetadataModelResponse"),
        (server.request("GET", "/v2/models/digits/ready", key=key), "ModelReadyResponse"),
        (server.request("POST", "/v2/models/digits/infer", json.dumps({**_infer_body(2), "id": "r1"}).encode(),
                        {"Content-Type": "application/json"}, key), "InferenceResponse"),
        (server.request("POST", "/v2/models/digits/infer", b"{}", key="vmb_wrong"), "Error"),
    ]
    request_schema = _schema(doc, "InferenceRequest")
    jsonschema.validate(_infer_body(2), request_schema)
    for answer, name in checks:
        jsonschema.validate(answer.json(), _schema(doc, name))
    assert [a.status_code for a, _ in checks] == [200, 200, 200, 200, 200, 401]
    assert deployment["version"] in checks[2][0].json()["versions"]


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/v2/models/{model_name}/infer", "post", s) for s in ("200", "400", "401", "404", "405", "413", "429", "503")
] + [("/v2/models/{model_name}/predict", "post", s) for s in ("200", "400", "401", "413", "415", "429")])
def test_status_codes_are_documented(path: str, method: str, status: str) -> None:
    doc = json.loads(OPENAPI_FILE.read_text())
    assert status in doc["paths"][path][method]["responses"]
