"""A CT classifier that learns where lesions are from masks, in two runs, in a real browser against a
real server and worker (the ``ct_lesion_cnn3d`` recipe, docs/guides/training.md):

1. a 3-D U-Net trained on CT volumes with lesion masks (through the API, as the segmentation
   journey trains it);
2. on the Train form, the ``ct_lesion_cnn3d`` graph (the U-Net's layers with a presence head) on a
   classification set of volumes with and without a lesion: its input adapted to the data, its
   recommended settings (Adam at 0.01) kept, the form saying the template is meant to start from a
   unet3d model, **"Fine-tune from a model of this project"** with the
   U-Net's model chosen and every layer but the head frozen.

The run loads every tensor of the U-Net, trains only the head, and calls the unseen test volumes
right. Screenshots: var/screenshots/train-starts-from-advice.png (the form's advice before a model is
chosen) and train-start-from-project-model.png (the model chosen, all but the head frozen)."""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builder.graph import compile_graph
from builder.graph.templates import get_template
from domain.runs.models import RunEvent
from pipelines.training.finetune import all_but
from tests.dataset_factories import write_zip
from tests.pipelines.test_volume_masks import case, nifti

from .journey import (
    IMAGES,
    Clicks,
    as_user,
    fill_field,
    ingested_version,
    open_advanced_settings,
    section,
)
from .test_journey_ct_segmentation import user_with_a_trained_unet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CLASSIFIED = 12  # volumes of each class in the classification set


def _classes_zip(path: Path) -> Path:
    """Volumes with a bright lesion (``case``, other seeds than the U-Net's) in ``lesion/`` and the
    same noise without one in ``clear/``: a classification set by class folders."""
    files: dict[str, bytes] = {}
    for i in range(CLASSIFIED):
        with_lesion, _ = case(100 + i)
        files[f"lesion/case{i}.nii.gz"] = nifti(with_lesion)
        clear = np.random.default_rng(200 + i).normal(-800, 20, with_lesion.shape)
        files[f"clear/case{i}.nii.gz"] = nifti(clear)
    return write_zip(path, files)


def _option(select: Any, text: str) -> str:
    """The value of ``select``'s option whose label contains ``text``."""
    options = select.locator("option")
    options.filter(has_text=text).first.wait_for(state="attached", timeout=30_000)
    return str(options.filter(has_text=text).first.get_attribute("value"))


def test_a_classifier_starts_from_the_projects_segmentation_model_with_all_but_its_head_frozen(
        live_stack: Any, page: Any, tmp_path: Path) -> None:
    click = Clicks()
    username = f"lesioncls_{uuid.uuid4().hex[:8]}"
    project, unet_run, _ = user_with_a_trained_unet(page, live_stack, click, username, "Lesion classifier", tmp_path)
    unet = as_user(username, lambda client: client.post("/api/v1/models/", {"run": unet_run}, format="json").json())
    classes = _classes_zip(tmp_path / "classes.zip").read_bytes()
    options = {"volume_shape": [8, 12, 12], "val_fraction": 0.25, "test_fraction": 0.25}
    version = as_user(username, lambda client: ingested_version(client, project, "lesion or clear", "ct_nifti", classes,
                                                                "classes.zip", options))
    assert version["task"] == "classification", version
    graph = as_user(username, lambda client: client.post(
        "/api/v1/graphs/from-template/", {"project": project, "template": "ct_lesion_cnn3d"}, format="json"))
    assert graph.status_code == 201, graph.content

    section(page, click, "Train")
    page.get_by_role("option", name=re.compile(r"lesion or clear")).wait_for(state="attached")
    graph_select = page.get_by_label("Graph", exact=True)
    graph_select.select_option(_option(graph_select, "lesion-pretrained"))
    dataset_select = page.get_by_label("Dataset", exact=True)
    dataset_select.select_option(_option(dataset_select, "lesion or clear"))
    warning = page.get_by_test_id("input-mismatch")
    warning.wait_for(timeout=30_000)
    click(warning.get_by_role("button", name="Adapt the input to this dataset"))
    page.get_by_test_id("change-notes").filter(has_text="Adapted the input").wait_for(timeout=30_000)
    # The template's recommendation for its second run: a fresh head wants Adam at 0.01.
    page.get_by_test_id("template-settings").filter(has_text="learning rate 0.01").wait_for(timeout=30_000)
    assert page.get_by_label("Learning rate").input_value() == "0.01"

    weights = page.get_by_role("region", name="Starting weights")
    assert weights.get_by_role("radio", name="Train from scratch (random weights)").is_checked()
    # The template says where it is meant to start from while it would train from scratch.
    advice = weights.get_by_test_id("starts-from-advice")
    assert "meant to start from a trained unet3d model of this project" in advice.inner_text(), advice.inner_text()
    weights.evaluate("w => { w.scrollIntoView({block: 'start'}); window.scrollBy(0, -72); }")  # below the header
    page.screenshot(path=str(IMAGES / "train-starts-from-advice.png"))
    choice = weights.get_by_role("combobox", name="Model to start from")
    choice.select_option(str(unet["id"]))
    assert weights.get_by_role("radio", name="Fine-tune from a model of this project").is_checked()
    weights.get_by_test_id("finetune-lr-hint").wait_for()
    advice.wait_for(state="detached")
    click(weights.get_by_role("button", name="Freeze all but the head"))
    backbone = all_but(compile_graph(get_template("ct_lesion_cnn3d")), "logits")
    weights.get_by_role("status").filter(has_text=f"{len(backbone)} of {len(backbone) + 1} frozen").wait_for()
    assert page.get_by_label("Learning rate").input_value() == "0.01"  # choosing weights left it alone
    fill_field(page.get_by_label("Epochs"), "10")
    fill_field(page.get_by_label("Batch size"), "4")
    weights.evaluate("w => { w.scrollIntoView({block: 'start'}); window.scrollBy(0, -72); }")  # below the header
    page.screenshot(path=str(IMAGES / "train-start-from-project-model.png"))
    open_advanced_settings(page, click)
    page.get_by_label("Device").select_option("cpu")
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=300_000)
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    run = as_user(username, lambda client: client.get(f"/api/v1/runs/{run_id}/").json())
    config = run["config"]
    assert config["init_weights"]["model"] == unet["id"] and config["optimizer"]["lr"] == 0.01
    assert config["freeze"] == backbone
    logs = as_user(username, lambda _client: [e.data["message"] for e in RunEvent.objects.filter(
        run_id=run_id, type="run.log")])
    unet_tensors = len(compile_graph(get_template("unet3d")).state_dict())
    assert f"started from pretrained weights: {unet_tensors} tensors loaded, 2 initialised afresh" in logs, logs
    assert any(m.startswith(f"frozen: {backbone[0]}, ") for m in logs), logs
    # The U-Net finds the bright lesions, so the head only has to place a threshold: every unseen
    # test volume is called right.
    print(f"\nlesion classifier journey: test {run['test_metrics']}")
    assert run["test_metrics"]["accuracy"] == 1.0, run["test_metrics"]
