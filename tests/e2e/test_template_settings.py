"""The Train form pre-fills the run settings a graph's template recommends: a graph made from the
"MLP for tables" template opens Train with batch 16, Adam at 0.01 and a one-cycle schedule, a note
saying so, and a way back to the plain defaults (and forth). At 1440x900. Screenshot:
var/screenshots/train-template-settings.png (or under $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .journey import IMAGES, Clicks, fill_field, open_advanced_settings, section, sign_up_and_open_project

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
