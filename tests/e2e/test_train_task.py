"""The Train form's task follows the chosen dataset version: the ``shapes`` sample (images with masks)
opens Train from "Build a model for this data" with Task = segmentation under Advanced settings, and
the run estimate is not refused; choosing the digits changes it to classification, and back. A task
changed by hand to one the version can't train is refused before Start, with the server's reason
("the dataset is for segmentation, not classification"). The run starts with the version's task and
trains with the task's own loss. Screenshots: var/screenshots/train-task-follows-dataset.png and
train-task-refused.png (or under $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .journey import (
    IMAGES,
    Clicks,
    fill_field,
    open_advanced_settings,
    poll,
    section,
    sign_up_and_open_project,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _shown(select: Any) -> str:
    return str(select.evaluate("s => s.selectedOptions[0].text"))


def test_the_task_follows_the_chosen_dataset_version(live_stack: Any, page: Any) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    click = Clicks()
    sign_up_and_open_project(page, live_stack.url, click, f"task_{uuid.uuid4().hex[:8]}", "Shapes")
    section(page, click, "Datasets")
    click(page.get_by_role("button", name="Add sample digits"))
    click(page.get_by_role("button", name="Add sample shapes"))
    datasets = page.get_by_role("list", name="Datasets")
    poll(lambda: datasets.get_by_text(re.compile(r"^Ready")).count() == 2, 180, "both samples ingested")
    click(datasets.get_by_role("button", name="shapes"))
    click(page.get_by_role("button", name="Build a model for this data"))
    page.wait_for_url(re.compile(r"/train\?graph_version=\d+&dataset_version=\d+$"))
    shapes_version = re.search(r"dataset_version=(\d+)", page.url).group(1)

    dataset = page.get_by_label("Dataset")
    dataset.locator("option", has_text="digits").wait_for(state="attached")
    poll(lambda: dataset.input_value() == shapes_version, 15, "the shapes version chosen")
    open_advanced_settings(page, click)
    task = page.get_by_role("group", name="Task and run").get_by_label("Task", exact=True)
    # Segmentation, without the user looking for it; the server takes it (no refusal).
    assert _shown(task) == "segmentation"
    estimate = page.get_by_test_id("run-estimate")
    estimate.filter(has_text="Training needs about").wait_for(timeout=30_000)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top, not over the form
    page.screenshot(path=str(IMAGES / "train-task-follows-dataset.png"), full_page=True)

    # Another version takes its task, and back.
    dataset.select_option(dataset.locator("option", has_text="digits").get_attribute("value"))
    poll(lambda: _shown(task) == "classification", 5, "the digits' task")
    dataset.select_option(shapes_version)
    poll(lambda: _shown(task) == "segmentation", 5, "the shapes' task again")

    # By hand, a task the version can't train: the server's reason, before Start is pressed.
    task.select_option(label="classification")
    estimate.get_by_text("Starting now would be refused:").wait_for(timeout=30_000)
    estimate.get_by_text("task: the dataset is for segmentation, not classification").wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(IMAGES / "train-task-refused.png"), full_page=True)
    task.select_option(label="segmentation")
    estimate.filter(has_text="Training needs about").wait_for(timeout=30_000)

    fill_field(page.get_by_test_id("run-config-basic").get_by_label("Epochs"), "1")
    page.get_by_label("Device").select_option("cpu")
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]
    config = page.evaluate(f"async () => (await fetch('/api/v1/runs/{run_id}/')).json()")["config"]
    assert (config["task"], config["loss"]) == ("segmentation", "cross_entropy"), config
    # One epoch to the end, so the live stack's one worker is free for the next test.
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=240_000)
    # The refusals above are 400s the browser logs as failed loads; anything else is a fault.
    assert [e for e in console_errors if "status of 400" not in e] == [], console_errors
