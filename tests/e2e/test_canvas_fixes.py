"""One-click fixes on the canvas, at 1440x900 and 1280x720: an error's remedy is a button on the
node and in Properties; one click fixes it (shapes come back), one undo brings the error back.
Deleting a middle layer that keeps its shape joins its neighbours; one undo restores it.

Screenshots at 1440x900 go to var/screenshots/ (or $VMB_SCREENSHOTS_DIR: docs/images refreshes
fix-before.png and fix-applied.png).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from .journey import Clicks, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IMAGES = Path(os.environ.get("VMB_SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
IMAGES.mkdir(parents=True, exist_ok=True)



def _status(page: Any) -> Any:
    return page.get_by_test_id("validation-status")


def _valid(page: Any) -> None:
    _status(page).filter(has_text=re.compile("^Valid")).wait_for(timeout=30000)


def _node(page: Any, node_id: str) -> Any:
    return page.get_by_test_id(f"node-{node_id}")


def _edge_shape(page: Any, source: str, target: str) -> Any:
    return page.get_by_test_id(f"edge-shape-{source}-{target}")


def _undo(page: Any) -> None:
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")


def test_fix_on_the_node_then_undo_and_delete_joins_neighbours(live_stack: Any, sized_page: Any) -> None:
    page = sized_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_up_and_open_project(page, live_stack.url, Clicks(), f"fixes_{uuid.uuid4().hex[:8]}", "Vision")
    page.get_by_role("heading", name="Vision", level=1).wait_for()
    page.get_by_role("button", name="Use template LeNet-5").click()
    page.get_by_test_id("graph-editor").wait_for()
    _valid(page)

    # A kernel larger than the 32x32 image: an error on c1, whose remedy is padding 'same'.
    _node(page, "c1").locator(".layer-node__header").click()
    kernel = page.get_by_test_id("param-kernel_size").get_by_role("spinbutton")
    kernel.fill("64")
    kernel.press("Enter")
    error = _node(page, "c1").get_by_test_id("issue-shape_mismatch")
    error.wait_for()
    assert "too small" in error.inner_text()
    assert _node(page, "c1").get_attribute("data-state") == "error"
    on_node = _node(page, "c1").get_by_role("button", name="Fix: set padding to same on c1")
    on_node.wait_for()
    assert on_node.inner_text() == "Set padding to same"
    in_properties = page.get_by_test_id("properties").get_by_role("button", name="Fix: set padding to same on c1")
    assert in_properties.is_visible()
    if page.viewport_name == "1440x900":
        _node(page, "c1").scroll_into_view_if_needed()
        page.screenshot(path=str(IMAGES / "fix-before.png"))

    # One click on the node fixes it: the error goes, shapes are back, the whole graph is valid.
    on_node.click()
    _valid(page)
    page.get_by_test_id("shape-c1-out").filter(has_text="32×6×32×32").wait_for()
    assert _node(page, "c1").get_attribute("data-state") == "ok"
    assert on_node.count() == 0
    if page.viewport_name == "1440x900":
        page.screenshot(path=str(IMAGES / "fix-applied.png"))

    # One undo brings the error (and its button) back.
    _undo(page)
    _node(page, "c1").get_by_test_id("issue-shape_mismatch").wait_for()
    on_node.wait_for()
    _undo(page)  # the kernel edit
    _valid(page)

    # Delete a middle layer that keeps its shape (tanh1): c1 now feeds s2 directly.
    _edge_shape(page, "c1", "tanh1").filter(has_text="32×6×28×28").wait_for()
    _node(page, "tanh1").locator(".layer-node__header").click()
    page.keyboard.press("Delete")
    _node(page, "tanh1").wait_for(state="detached")
    _edge_shape(page, "c1", "s2").filter(has_text="32×6×28×28").wait_for()
    _valid(page)
    # One undo restores the layer and both its edges.
    _undo(page)
    _node(page, "tanh1").wait_for()
    _edge_shape(page, "c1", "tanh1").wait_for()
    _edge_shape(page, "tanh1", "s2").wait_for()
    assert _edge_shape(page, "c1", "s2").count() == 0
    _valid(page)

    # A layer that changes the shape (c3) leaves the gap open: joining would be a mismatch.
    _node(page, "c3").locator(".layer-node__header").click()
    page.keyboard.press("Delete")
    _node(page, "c3").wait_for(state="detached")
    _node(page, "tanh2").get_by_test_id("issue-missing_input").wait_for()
    assert _edge_shape(page, "s2", "tanh2").count() == 0
    assert errors == []
