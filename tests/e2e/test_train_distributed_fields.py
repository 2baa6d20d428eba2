"""The Train form's data-parallel settings (the "Multi-GPU" group under Advanced settings): GPUs,
overlap, gradient compression, PowerSGD rank and synchronised batch norm, at 1440x900 and 1280x720.

The Multi-GPU group appears under Advanced settings only once the run asks for more than one
device (GPUs × nodes); PowerSGD rank shows only with ``powersgd`` compression. On this machine, with no GPU, more than one GPU is refused before
anything is queued: on the CPU the estimate and the 400 both say "cpu training uses one device"
under the GPUs field. (On ``auto`` the server refuses with "no worker has 2 GPUs" only while a
worker's device registration is on record, which a test's database flush removes, so that case is
left to tests/api.) The settings chosen reach the created run's config, read back through the API."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .journey import Clicks, fill_field, lenet_and_digits_at_train, open_advanced_settings

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _in_view(page: Any, locator: Any) -> None:
    """The control lies inside the window's width once scrolled to (nothing cut off at the side)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)


def test_the_multi_gpu_fields_reach_the_run_and_a_bad_combination_names_gpus(live_stack: Any,
                                                                             sized_page: Any) -> None:
    page = sized_page
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    click = Clicks()
    lenet_and_digits_at_train(page, live_stack.url, click, f"ddp_{uuid.uuid4().hex[:8]}")
    fill_field(page.get_by_test_id("run-config-basic").get_by_label("Epochs"), "1")
    open_advanced_settings(page, click)
    gpus = page.get_by_role("group", name="Device").get_by_label("GPUs")
    gpus.wait_for()
    multi = page.get_by_role("group", name="Multi-GPU")
    assert multi.count() == 0  # one device: nothing to synchronise, so no data-parallel settings
    fill_field(gpus, "2")
    multi.wait_for()
    for control in (gpus, multi.get_by_label("Overlap gradient sync"), multi.get_by_label("Gradient compression")):
        _in_view(page, control)
    assert multi.get_by_label("Gradient compression").locator("option").all_inner_texts() == [
        "none", "fp16", "bf16", "powersgd"]
    # PowerSGD's rank concerns powersgd compression only.
    assert multi.get_by_label("PowerSGD rank").count() == 0
    multi.get_by_label("Gradient compression").select_option("powersgd")
    rank = multi.get_by_label("PowerSGD rank")
    rank.wait_for()
    fill_field(rank, "0")  # the schema's range, checked as typed, names the field
    multi.get_by_text("PowerSGD rank must be at least 1").wait_for()
    fill_field(rank, "4")
    overlap = multi.get_by_label("Overlap gradient sync")
    if overlap.is_checked():
        overlap.uncheck()
    sync = multi.get_by_label("Sync batch norm across GPUs", exact=True)
    multi.get_by_label("Sync batch norm across GPUs: kind of value").select_option(index=0)
    if sync.get_attribute("type") == "checkbox" and not sync.is_checked():
        sync.check()

    # Two GPUs on the CPU: an invalid combination, said before starting and on the field itself.
    page.get_by_label("Device").select_option("cpu")
    fill_field(gpus, "2")
    estimate = page.get_by_test_id("run-estimate")
    estimate.get_by_text("Starting now would be refused:").wait_for(timeout=30_000)
    estimate.get_by_text(re.compile(r"cpu training uses one device; ask for cuda or xpu")).wait_for()
    click(page.get_by_role("button", name="Start training"))
    field_error = page.get_by_role("group", name="Device").get_by_text(
        re.compile(r"cpu training uses one device; ask for cuda or xpu"))
    field_error.wait_for()
    _in_view(page, field_error)
    assert re.search(r"/train", page.url), page.url  # nothing was created

    page.screenshot(path="docs/images/train-multi-gpu.png", full_page=False)
    # One CPU: the group goes away, and the run starts with the data-parallel settings recorded as chosen.
    page.get_by_label("Device").select_option("cpu")
    fill_field(gpus, "1")
    multi.wait_for(state="detached")
    estimate.filter(has_text=re.compile(r"at batch size \d+ in fp32")).wait_for(timeout=30_000)
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]
    run = page.evaluate(f"async () => (await fetch('/api/v1/runs/{run_id}/')).json()")
    config = run["config"]
    assert (config["device"]["kind"], config["device"]["gpus"]) == ("cpu", 1), config
    distributed = config["distributed"]
    assert (distributed["compression"], distributed["powersgd_rank"], distributed["overlap"]) == (
        "powersgd", 4, False), distributed
    assert distributed["sync_batchnorm"] is True, distributed
    # One epoch to the end, so the live stack's one worker is free for the next test.
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    # The refusals above are 400s the browser logs as failed loads; anything else is a fault.
    assert [e for e in console_errors if "status of 400" not in e] == [], console_errors
