"""The canvas, as a person uses it: build a small CNN by drag and drop, watch shapes and errors
appear, apply a fix, undo and redo, save, reload, read the code, and open an imported ResNet-50.

Screenshots of the editor go to var/screenshots/ (or $VMB_SCREENSHOTS_DIR); the README's
docs/images/canvas.png (LeNet-5) comes from test_canvas_readable.py.
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

# Screenshots go to var/screenshots/ so a test run leaves the tree clean; refresh the ones in the
# docs with VMB_SCREENSHOTS_DIR=docs/images.
IMAGES = Path(os.environ.get("VMB_SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
IMAGES.mkdir(parents=True, exist_ok=True)


def _sign_up_with_graph(live_stack: Any, page: Any, graph: str) -> None:
    sign_up_and_open_project(page, live_stack.url, Clicks(), f"canvas_{uuid.uuid4().hex[:8]}", "Vision")
    page.get_by_role("heading", name="Vision", level=1).wait_for()
    if graph:
        page.get_by_label("Name").first.fill(graph)
        page.get_by_role("button", name="Create graph").click()
        page.get_by_role("list", name="Graphs").get_by_role("link", name=graph).click()
        page.get_by_test_id("graph-editor").wait_for()


def _node(page: Any, node_id: str) -> Any:
    return page.get_by_test_id(f"node-{node_id}")


def _connect(page: Any, source: str, target: str, port: str = "in") -> None:
    """Drag from ``source``'s output handle to ``target``'s input, as a hand does: press, move in
    steps (React Flow starts a connection on the first moves and finds the handle under the
    pointer on release), release over the handle. ``drag_to`` waited for the target to be still,
    which it is not while the pane pans, and its one jump was dropped now and then."""
    start = page.get_by_test_id(f"handle-{source}-out-out")
    end = page.get_by_test_id(f"handle-{target}-in-{port}")
    start.scroll_into_view_if_needed()
    a, b = start.bounding_box(), end.bounding_box()
    assert a is not None and b is not None, f"handles of {source} and {target} are not on screen"
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    # Near the pane's edge React Flow pans while a connection is dragged, moving the handle: aim
    # at where it is now, then release (it connects to a handle within its connection radius).
    b = end.bounding_box()
    assert b is not None, f"{target}'s handle left the screen"
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    page.mouse.up()


def _tool(page: Any, name: str) -> Any:
    return page.get_by_role("toolbar", name="Editor").get_by_role("button", name=name, exact=True)


def _fit(page: Any) -> None:
    _tool(page, "Fit view").click()
    page.wait_for_timeout(350)


def _status(page: Any) -> Any:
    return page.get_by_test_id("validation-status")


def test_build_validate_fix_save_and_read_code(live_stack: Any, page: Any) -> None:
    errors: list[str] = []
    _sign_up_with_graph(live_stack, page, "Tiny CNN")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    canvas = page.get_by_test_id("canvas")
    canvas.get_by_role("note").wait_for()  # the empty state says what to do

    # Drag an input and a convolution from the palette (HTML5 drag and drop), then wire them.
    page.get_by_label("Search layers").fill("image")
    page.get_by_test_id("palette-image_input").drag_to(canvas, target_position={"x": 120, "y": 200})
    _node(page, "image_input_1").wait_for()
    page.get_by_label("Search layers").fill("")
    page.get_by_test_id("palette-conv2d").drag_to(canvas, target_position={"x": 480, "y": 320})
    _node(page, "conv2d_1").wait_for()
    _connect(page, "image_input_1", "conv2d_1")
    _fit(page)
    page.get_by_test_id("edge-shape-image_input_1-conv2d_1").wait_for()
    assert page.get_by_test_id("edge-shape-image_input_1-conv2d_1").inner_text() == "32×3×32×32"

    # Double-click adds after the selected layer, connected: conv, flatten, linear.
    _node(page, "conv2d_1").click()
    for layer in ("conv2d", "flatten", "linear"):
        page.get_by_test_id(f"palette-{layer}").dblclick()
    _node(page, "linear_1").wait_for()
    _fit(page)
    page.get_by_test_id("shape-linear_1-out").filter(has_text="32×64").wait_for()
    assert _status(page).inner_text() == "Valid"
    assert page.get_by_test_id("edge-shape-conv2d_2-flatten_1").inner_text() == "32×16×28×28"
    assert "params" in _node(page, "conv2d_1").inner_text()
    assert page.get_by_test_id("total-params").inner_text() != "Params –"

    # A shape error shows on the node at fault, with its message, and nowhere else.
    _node(page, "conv2d_1").click()
    kernel = page.get_by_test_id("param-kernel_size").get_by_role("spinbutton")
    kernel.fill("64")
    kernel.press("Enter")
    expect_error = _node(page, "conv2d_1").get_by_test_id("issue-shape_mismatch")
    expect_error.wait_for()
    assert "too small" in expect_error.inner_text()
    assert _node(page, "conv2d_1").get_attribute("data-state") == "error"
    assert _node(page, "image_input_1").get_attribute("data-state") == "ok"
    assert re.match(r"\d+ errors?", _status(page).inner_text())
    _tool(page, "Undo").click()
    _status(page).filter(has_text=re.compile("^Valid$")).wait_for()

    # Remove the flatten and wire conv → linear: the server suggests inserting a flatten.
    _node(page, "flatten_1").click()
    page.keyboard.press("Delete")
    _node(page, "flatten_1").wait_for(state="detached")
    _connect(page, "conv2d_2", "linear_1")
    _fit(page)  # the pane may have panned while the connection was dragged near its edge
    fix = _node(page, "linear_1").get_by_role("button", name=re.compile("Fix: insert flatten"))
    fix.wait_for()
    page.screenshot(path=str(IMAGES / "canvas-fix.png"))
    fix.click()
    _node(page, "flatten_1").wait_for()
    page.get_by_test_id("edge-shape-flatten_1-linear_1").filter(has_text="32×12544").wait_for()
    assert fix.count() == 0

    # Undo and redo (keyboard and toolbar) step through the fix.
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 30, "y": 30})
    page.keyboard.press("Control+z")
    _node(page, "flatten_1").wait_for(state="detached")
    page.keyboard.press("Control+Shift+z")
    _node(page, "flatten_1").wait_for()
    _tool(page, "Undo").click()
    _node(page, "flatten_1").wait_for(state="detached")
    _tool(page, "Redo").click()
    _node(page, "flatten_1").wait_for()
    _status(page).filter(has_text=re.compile("^Valid$")).wait_for()

    page.set_viewport_size({"width": 1600, "height": 900})  # roomier, for the README's picture
    _tool(page, "Auto layout").click()
    page.wait_for_timeout(400)
    # Moving a layer by mouse is one undoable step.
    before = _node(page, "conv2d_2").bounding_box()
    page.mouse.move(before["x"] + 30, before["y"] + 8)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(before["x"] + 30, before["y"] + 8 + step * 8)
    page.mouse.up()
    assert _node(page, "conv2d_2").bounding_box()["y"] > before["y"] + 40
    _tool(page, "Undo").click()
    page.wait_for_timeout(200)
    assert abs(_node(page, "conv2d_2").bounding_box()["y"] - before["y"]) < 2

    _node(page, "conv2d_2").click()
    page.get_by_label("Search layers").fill("conv")
    page.wait_for_timeout(300)
    page.screenshot(path=str(IMAGES / "canvas-built.png"))  # canvas.png is LeNet-5 (test_canvas_readable.py)
    page.get_by_label("Search layers").fill("")

    # Save a version; reload; it is listed, and the canvas is the saved graph.
    _tool(page, "Save").click()
    page.get_by_label("Message").fill("First CNN")
    page.get_by_role("button", name="Save version").click()
    page.get_by_test_id("save-state").filter(has_text="All changes saved").wait_for()
    page.reload()
    page.get_by_test_id("graph-editor").wait_for()
    _node(page, "flatten_1").wait_for()
    page.get_by_role("tab", name="History").click()
    version = page.get_by_test_id("version-1")
    version.wait_for()
    assert "First CNN" in version.inner_text()

    # The code view shows the generated PyTorch source, ready to copy or download.
    _tool(page, "Code").click()
    code = page.get_by_label("Generated code")
    code.wait_for()
    assert "class Model" in code.inner_text() and "nn.Conv2d" in code.inner_text()
    assert page.get_by_role("button", name=re.compile(r"Download .*\.py")).is_visible()
    page.screenshot(path=str(IMAGES / "code-view.png"))
    page.get_by_role("button", name="Close").click()

    # A second version; compare the two: what changed, parameter by parameter.
    page.get_by_role("tab", name="Properties").click()
    _node(page, "linear_1").click()
    features = page.get_by_test_id("param-out_features").get_by_role("spinbutton")
    features.fill("10")
    features.press("Enter")
    page.get_by_test_id("shape-linear_1-out").filter(has_text="32×10").wait_for()
    _tool(page, "Save").click()
    page.get_by_label("Message").fill("Ten classes")
    page.get_by_role("button", name="Save version").click()
    page.get_by_test_id("save-state").filter(has_text="All changes saved").wait_for()
    page.get_by_role("tab", name="History").click()
    page.get_by_test_id("version-2").wait_for()
    page.get_by_label("Pick version 1 to compare").check()
    page.get_by_label("Pick version 2 to compare").check()
    page.get_by_role("button", name="Compare selected").click()
    diff = page.get_by_test_id("diff")
    diff.wait_for()
    assert "out_features: 64 → 10" in diff.inner_text()
    page.get_by_role("button", name="Close").click()

    # Unsaved work survives a reload as a draft.
    page.get_by_role("tab", name="Properties").click()
    _node(page, "linear_1").click()
    page.get_by_test_id("palette-relu").dblclick()
    _node(page, "relu_1").wait_for()
    page.get_by_test_id("save-state").filter(has_text="Unsaved changes").wait_for()
    page.wait_for_timeout(700)  # the draft is written after a short pause
    page.on("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.get_by_text("Restored your unsaved changes").wait_for()
    _node(page, "relu_1").wait_for()
    page.get_by_role("button", name="Discard them").click()
    _node(page, "relu_1").wait_for(state="detached")

    assert errors == []


def test_open_resnet50_from_torchvision(live_stack: Any, page: Any) -> None:
    errors: list[str] = []
    _sign_up_with_graph(live_stack, page, "")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.get_by_role("list", name="Templates").wait_for()
    page.get_by_label("Architecture", exact=True).select_option("resnet50")
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("graph-editor").wait_for(timeout=90000)
    _node(page, "conv1").wait_for()  # a big graph opens on its input, at a readable zoom
    _status(page).filter(has_text=re.compile("^Valid")).wait_for(timeout=30000)
    page.get_by_test_id("total-params").filter(has_text="Params 25.6M").wait_for()
    # Its 16 blocks open folded (test_canvas_readable.py takes docs/images/resnet50.png).
    assert 0 < page.locator(".react-flow__node").count() < 176

    # Dragging a node and editing a parameter of the 176-node graph stay quick.
    box = _node(page, "conv1").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 10)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + 40 + step * 3, box["y"] + 10 + step * 2)
    page.mouse.up()
    page.get_by_test_id("save-state").filter(has_text="Unsaved changes").wait_for()
    _node(page, "conv1").click()
    channels = page.get_by_test_id("param-out_channels").get_by_role("spinbutton")
    channels.fill("32")
    channels.press("Enter")
    page.get_by_test_id("shape-conv1-out").filter(has_text="32×32×112×112").wait_for(timeout=5000)
    _status(page).filter(has_text=re.compile("^Valid")).wait_for()
    assert page.get_by_test_id("total-params").inner_text() != "Params 25.6M"
    assert errors == []


def test_start_from_a_template(live_stack: Any, page: Any) -> None:
    _sign_up_with_graph(live_stack, page, "")
    page.get_by_role("button", name="Use template LeNet-5").click()
    page.get_by_test_id("graph-editor").wait_for()
    _status(page).filter(has_text=re.compile("^Valid")).wait_for()
    # Templates arrive laid out top to bottom (builder/graph/layout.py): each layer below its input.
    boxes = [_node(page, node_id).bounding_box() for node_id in ("image", "c1", "tanh1", "s2")]
    assert all(a["y"] + a["height"] <= b["y"] for a, b in zip(boxes, boxes[1:], strict=False)), boxes
    page.get_by_role("tab", name="History").click()
    assert "from template lenet5" in page.get_by_test_id("version-1").inner_text()
