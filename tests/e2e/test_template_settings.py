"""The Train form pre-fills the run settings a graph's template recommends: a graph made from the
"MLP for tables" template opens Train with batch 16, Adam at 0.01 and a one-cycle schedule, a note
saying so, and a way back to the plain defaults (and forth). A 3-D U-Net's recommended augmentation,
which has no field on the form, is named in the note and stored with the run started from the
browser; a run under the plain defaults stores none (the dataset's applies). At 1440x900.
Screenshots: var/screenshots/train-template-settings.png and train-template-augmentation.png (or
under $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.pipelines.test_volume_masks import archive

from .journey import (
    IMAGES,
    Clicks,
    as_user,
    fill_field,
    open_advanced_settings,
    poll,
    section,
    sign_up_and_open_project,
)
from .test_journey_ct_segmentation import lesions_and_unet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_train_prefills_the_templates_recommended_settings(live_stack: Any, page: Any) -> None:
    from builder.graph.templates import template_config
    from pipelines.training.config import RunConfig

    recommended, plain = template_config("tabular_mlp"), RunConfig()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1440, "height": 900})
    click = Clicks()
    sign_up_and_open_project(page, live_stack.url, click, f"tmpl_{uuid.uuid4().hex[:8]}", "Prices")
    project_url = page.url
    click(page.get_by_role("button", name="Use template MLP for tables"))
    page.wait_for_url(re.compile(r"/graphs/\d+$"))
    page.goto(project_url)

    section(page, click, "Train")
    note = page.get_by_test_id("template-settings")
    note.wait_for()
    assert note.inner_text().startswith(
        "Settings recommended by the MLP for tables template: "
        "batch 16, Adam optimizer, learning rate 0.01, one-cycle schedule."
    )
    basic = page.get_by_test_id("run-config-basic")
    assert basic.get_by_label("Batch size").input_value() == str(recommended["batch_size"]) == "16"
    assert float(basic.get_by_label("Learning rate").input_value()) == recommended["optimizer"]["lr"] == 0.01
    assert basic.get_by_label("Optimizer").evaluate("s => s.selectedOptions[0].text") == "adam"
    open_advanced_settings(page, click)
    schedule = page.get_by_role("group", name="Learning-rate schedule").get_by_label("Schedule")
    assert schedule.evaluate("s => s.selectedOptions[0].text") == "one_cycle"
    page.screenshot(path=str(IMAGES / "train-template-settings.png"), full_page=True)

    # Back to the plain defaults (no dataset yet: the schema's batch, step and no schedule); and forth.
    click(note.get_by_role("button", name="Use plain defaults"))
    note.get_by_text(re.compile(r"^Plain defaults\. The MLP for tables template recommends batch 16")).wait_for()
    assert basic.get_by_label("Batch size").input_value() == str(plain.batch_size) != "16"
    assert float(basic.get_by_label("Learning rate").input_value()) == plain.optimizer.lr != 0.01
    assert schedule.evaluate("s => s.selectedOptions[0].text") == "none"
    click(note.get_by_role("button", name="Use recommended settings"))
    assert basic.get_by_label("Batch size").input_value() == "16"
    # Still the user's to change.
    fill_field(basic.get_by_label("Batch size"), "8")
    assert basic.get_by_label("Batch size").input_value() == "8"
    assert not console_errors, console_errors


def _lesions_and_unet(client: Any, project: int, data: bytes) -> tuple[int, int]:
    """Through the API: CT volumes with lesion masks ingested, and the graph "Build a model for this
    data" proposes for them (the 3-D U-Net template, sized to the volumes): (dataset version id,
    graph version id)."""
    version_id, built = lesions_and_unet(client, project, data, [8, 12, 12])
    return version_id, int(built["version"]["id"])


def _stored_config(username: str, run_id: int) -> dict[str, Any]:
    """The run's config as the database holds it (what the worker trains with)."""
    def read(_: Any) -> dict[str, Any]:
        from domain.runs.models import TrainingRun

        return dict(TrainingRun.objects.get(pk=run_id).config)

    return as_user(username, read)


def _start_one_epoch(page: Any, click: Clicks) -> int:
    """One epoch on the CPU (under Advanced settings), started; the new run's id."""
    fill_field(page.get_by_test_id("run-config-basic").get_by_label("Epochs"), "1")
    open_advanced_settings(page, click)
    page.get_by_label("Device").select_option("cpu")
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.timeout(600)  # an ingest and two one-epoch runs on the live worker
def test_a_run_from_the_form_carries_the_templates_augmentation(live_stack: Any, page: Any, tmp_path: Path) -> None:
    from builder.graph.templates import template_config

    flips = template_config("unet3d")["augmentation"]
    assert flips == {"flip_horizontal": True, "flip_depth": True}
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1440, "height": 900})
    click = Clicks()
    username = f"aug_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, click, username, "Lesions")
    project = int(re.findall(r"/projects/(\d+)", page.url)[0])
    data = archive(tmp_path / "lesions.zip", cases=12).read_bytes()
    dataset_version, graph_version = as_user(username, lambda client: _lesions_and_unet(client, project, data))
    train_url = f"{live_stack.url}/projects/{project}/train?graph_version={graph_version}&dataset_version={dataset_version}"

    page.goto(train_url)
    note = page.get_by_test_id("template-settings")
    note.wait_for()
    assert note.inner_text().startswith(
        "Settings recommended by the U-Net (3D segmentation) template: Adam optimizer, learning rate 0.001, "
        "loss dice_cross_entropy, cosine schedule, "
        "augmentation: left-right flips, slice-order flips (instead of the dataset's)."
    ), note.inner_text()
    # The server takes the run as the form would send it (no refusal before Start).
    page.get_by_test_id("run-estimate").filter(has_text="Training needs about").wait_for(timeout=30_000)
    page.evaluate("window.scrollTo(0, 0)")
    note.screenshot(path=str(IMAGES / "train-template-augmentation-note.png"))
    page.screenshot(path=str(IMAGES / "train-template-augmentation.png"), full_page=True)
    recommended_run = _start_one_epoch(page, click)
    api_config = page.evaluate(f"async () => (await fetch('/api/v1/runs/{recommended_run}/')).json()")["config"]
    stored = _stored_config(username, recommended_run)
    assert api_config["augmentation"] == stored["augmentation"], (api_config, stored)
    # The server fills the rest of the augmentation with its defaults: the flips on, the others off.
    assert {k: v for k, v in stored["augmentation"].items() if v is True} == flips, stored["augmentation"]
    assert stored["augmentation"]["rotate_degrees"] == 0 and stored["augmentation"]["flip_vertical"] is False
    assert (stored["loss"], stored["schedule"]["name"]) == ("dice_cross_entropy", "cosine")

    # The plain defaults leave the run's augmentation unset, as before: the worker takes the dataset's.
    page.goto(train_url)
    note.wait_for()
    click(note.get_by_role("button", name="Use plain defaults"))
    note.get_by_text(re.compile(r"^Plain defaults\. The U-Net \(3D segmentation\) template recommends .*"
                                r"augmentation: left-right flips, slice-order flips")).wait_for()
    plain_run = _start_one_epoch(page, click)
    assert _stored_config(username, plain_run)["augmentation"] is None

    # Both train: the worker takes the augmentation (one epoch each), and is free for the next test.
    for run_id in (recommended_run, plain_run):
        def status(client: Any, run_id: int = run_id) -> str:
            return str(client.get(f"/api/v1/runs/{run_id}/").json()["status"])

        poll(lambda status=status: as_user(username, status) in ("succeeded", "failed", "cancelled"), 300, f"run {run_id}",
             every=1.0)
        assert as_user(username, status) == "succeeded", live_stack.log_tail()
    assert not console_errors, console_errors
