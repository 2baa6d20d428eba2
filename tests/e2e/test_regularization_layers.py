"""The training-only layers on the canvas: stochastic depth and the dropout variants come from the
registry into the palette (no frontend code), take their parameters from the generated form, and
export to source.

Screenshot: var/screenshots/stochastic-depth.png (or $VMB_SCREENSHOTS_DIR).
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_canvas import IMAGES, _fit, _node, _sign_up_with_graph, _status, _tool

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_stochastic_depth_from_the_palette_to_the_code(live_stack: Any, page: Any) -> None:
    errors: list[str] = []
    _sign_up_with_graph(live_stack, page, "Residual")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    canvas = page.get_by_test_id("canvas")
    canvas.get_by_role("note").wait_for()

    page.get_by_label("Search layers").fill("dropout")
    group = page.get_by_role("complementary", name="Layer palette").get_by_role("region", name="regularization")
    for layer in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        group.get_by_test_id(f"palette-{layer}").wait_for()
    page.get_by_label("Search layers").fill("image")
    page.get_by_test_id("palette-image_input").drag_to(canvas, target_position={"x": 120, "y": 200})
    _node(page, "image_input_1").wait_for()
    _node(page, "image_input_1").click()
    page.get_by_label("Search layers").fill("stochastic")
    page.get_by_test_id("palette-stochastic_depth").dblclick()  # added after the input, connected
    _node(page, "stochastic_depth_1").wait_for()
    page.get_by_label("Search layers").fill("")
    _fit(page)

    _node(page, "stochastic_depth_1").click()
    probability = page.get_by_test_id("param-p").get_by_role("spinbutton")
    probability.fill("0.25")
    probability.press("Enter")
    page.get_by_test_id("param-mode").get_by_role("combobox").select_option(label="batch")
    page.get_by_test_id("shape-stochastic_depth_1-out").filter(has_text="32×3×32×32").wait_for()
    _status(page).filter(has_text=re.compile("^Valid")).wait_for()
    page.screenshot(path=str(IMAGES / "stochastic-depth.png"))

    _tool(page, "Save").click()  # the code view shows a saved version's source
    page.get_by_label("Message").fill("stochastic depth")
    page.get_by_role("button", name="Save version").click()
    page.get_by_test_id("save-state").filter(has_text="All changes saved").wait_for()
    _tool(page, "Code").click()
    code = page.get_by_label("Generated code")
    code.wait_for()
    text = code.inner_text()
    assert "self.stochastic_depth_1 = StochasticDepth(p=0.25, mode='batch')" in text
    assert "class StochasticDepth(nn.Module):" in text
    page.get_by_role("button", name="Close").click()
    assert errors == []
