"""Serve a deployment on Triton or KServe, from its model's page in a real browser against the real
server and worker: the model is deployed with the Deploy button, then "Download Triton repository"
gives a zip whose config.pbtxt parses as Triton's ModelConfig with the batch size typed, a storage
URI KServe cannot read is refused under its field, and "Download KServe manifest" gives an
InferenceService the KServe SDK's model reads. Screenshot: engine-exports.png under var/screenshots/
(or $VMB_SCREENSHOTS_DIR, e.g. docs/images)."""
from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from tests.k8s_models import inference_service

from .journey import IMAGES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
PASSWORD = "correct-horse-battery"


@pytest.fixture
def world(live_stack: Any, make_user: Any) -> dict[str, Any]:
    """Made before the browser opens (Django refuses database calls while Playwright's loop runs):
    a user with a trained digits model."""
    from domain.deploy.services import variant_from_artifact
    from tests.deploy_factories import make_artifact

    user = make_user(f"engines_{uuid.uuid4().hex[:6]}", PASSWORD)
    artifact = make_artifact(user, "concat")
    return {"user": user.username, "project": artifact.run.project_id,
            "model": variant_from_artifact(user, artifact).pk}


def _download(page: Any, button: str, folder: Path) -> tuple[str, bytes]:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    path = folder / download.value.suggested_filename
    download.value.save_as(str(path))
    return path.name, path.read_bytes()


def test_download_a_triton_repository_and_a_kserve_manifest(live_stack: Any, world: dict[str, Any], page: Any,
                                                            tmp_path: Path) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_stack.url + "/sign-in")
    page.get_by_label("Username").fill(world["user"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Projects").wait_for()
    page.goto(f"{live_stack.url}/projects/{world['project']}/models/{world['model']}")
    page.get_by_label("Endpoint name").fill("digits-engines")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.get_by_test_id("deployment-status").filter(has_text="ready").wait_for(timeout=180_000)

    panel = page.get_by_role("region", name="Serve on Triton or KServe")
    panel.get_by_label("Max batch size").fill("8")
    name, data = _download(page, "Download Triton repository", tmp_path)
    assert name == "digits-engines-triton.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {"digits-engines/1/model.onnx", "digits-engines/config.pbtxt"} <= set(archive.namelist())
        config = text_format.Parse(archive.read("digits-engines/config.pbtxt").decode(), model_config_pb2.ModelConfig())
    assert (config.name, config.platform, config.max_batch_size) == ("digits-engines", "onnxruntime_onnx", 8)
    assert config.HasField("dynamic_batching")

    uri = panel.get_by_label("Storage URI")
    uri.fill("ftp://nowhere/digits")
    panel.get_by_role("button", name="Download KServe manifest").click()
    panel.locator(".field__errors").wait_for()
    assert uri.get_attribute("aria-invalid") == "true"

    uri.fill("s3://models/digits-engines")
    panel.get_by_label("KServe runtime").select_option("onnx")
    name, data = _download(page, "Download KServe manifest", tmp_path)
    assert name == "digits-engines-inferenceservice.yaml"
    service = inference_service(yaml.safe_load(data))
    assert service.metadata.name == "digits-engines"
    assert (service.spec.predictor.model.model_format.name, service.spec.predictor.model.storage_uri) == (
        "onnx", "s3://models/digits-engines")

    panel.screenshot(path=str(IMAGES / "engine-exports.png"))  # the panel only: the page above shows the API key
    assert console_errors == [] or all("400" in e for e in console_errors), console_errors
