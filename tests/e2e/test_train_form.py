"""The Train form as the server's RunConfig schema renders it: the basic fields with the schema's
defaults and choices, the rest under a collapsed "Advanced settings", the memory estimate following
the choices, and the run created with them. Screenshots: var/screenshots/train-form-basic.png
(collapsed) and train-form.png (advanced open), or under $VMB_SCREENSHOTS_DIR."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .journey import IMAGES, Clicks, fill_field, lenet_and_digits_at_train, open_advanced_settings

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _options(select: Any) -> list[str]:
    return select.locator("option").all_inner_texts()


def test_the_train_form_is_generated_from_the_run_config_schema(live_stack: Any, page: Any) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    click = Clicks()
    lenet_and_digits_at_train(page, live_stack.url, click, f"train_{uuid.uuid4().hex[:8]}")
    basic = page.get_by_test_id("run-config-basic")
    # The schema's defaults, choices and ranges; the batch fits the 1,797 digits.
    assert basic.get_by_label("Epochs").input_value() == "10"
    assert basic.get_by_label("Epochs").get_attribute("max") == "10000"
    assert basic.get_by_label("Batch size").input_value() == "32"
    assert _options(basic.get_by_label("Optimizer")) == ["sgd", "adam", "adamw"]
    assert _options(basic.get_by_label("Precision", exact=True)) == ["fp32", "fp16", "bf16", "dynamic"]
    # A newcomer sees a handful of fields; the rest wait, collapsed.
    assert basic.locator(".schema-field").count() == 5
    advanced = page.get_by_test_id("run-config-advanced")
    assert advanced.get_attribute("open") is None
    assert not page.get_by_label("Device").is_visible()

    estimate = page.get_by_test_id("run-estimate")
    estimate.filter(has_text=re.compile(r"at batch size 32 in fp32")).wait_for(timeout=30_000)
    fp32 = estimate.inner_text()
    fill_field(basic.get_by_label("Epochs"), "1")
    fill_field(basic.get_by_label("Batch size"), "16")
    basic.get_by_label("Precision", exact=True).select_option("bf16")
    estimate.filter(has_text=re.compile(r"at batch size 16 in bf16")).wait_for(timeout=30_000)
    assert estimate.inner_text() != fp32

    # A range the schema states is checked as typed, before the server is asked.
    fill_field(basic.get_by_label("Learning rate"), "-1")
    page.get_by_text("Learning rate must be more than 0").wait_for()
    fill_field(basic.get_by_label("Learning rate"), "0.002")

    page.screenshot(path=str(IMAGES / "train-form-basic.png"), full_page=True)
    open_advanced_settings(page, click)
    page.get_by_role("group", name="Learning-rate schedule").wait_for()
    page.get_by_label("Device").select_option("cpu")
    # Dynamic precision's settings only while it is chosen (bf16 is): its section is left out.
    assert page.get_by_role("group", name="Precision", exact=True).count() == 0
    assert page.get_by_label("Threshold").count() == 0
    page.screenshot(path=str(IMAGES / "train-form.png"), full_page=True)

    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]
    run = page.evaluate(f"async () => (await fetch('/api/v1/runs/{run_id}/')).json()")
    config = run["config"]
    assert (config["epochs"], config["batch_size"]) == (1, 16), config
    assert config["precision"]["precision_mode"] == "bf16", config
    assert config["optimizer"] == {"name": "adam", "lr": 0.002, "weight_decay": 0.0, "momentum": 0.9}, config
    assert config["device"]["kind"] == "cpu", config
    # One epoch, trained to the end, so the live stack's one worker is free for the next test.
    page.get_by_text(re.compile(r"epoch 1 of 1")).wait_for(timeout=120_000)
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    assert console_errors == [], console_errors
