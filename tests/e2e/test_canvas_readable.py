"""A canvas people can read at the size of real networks, at 1440x900 and 1280x720: LeNet-5 top to
bottom with text of at least 11 px on screen, ResNet-50 opened with its blocks folded and each
unfolding in place, Auto layout in a Web Worker, and a commit (Enter) validated at once.

Screenshots at 1440x900 go to var/screenshots/ (or $VMB_SCREENSHOTS_DIR: docs/images refreshes
canvas.png and resnet50.png).
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

# The smallest rendered text of every node in view: computed font size times the canvas zoom.
SMALLEST_TEXT = """() => {
  const viewport = document.querySelector('.react-flow__viewport');
  const zoom = new DOMMatrixReadOnly(getComputedStyle(viewport).transform).a;
  const pane = document.querySelector('[data-testid="canvas"]').getBoundingClientRect();
  let smallest = Infinity, seen = 0;
  for (const node of document.querySelectorAll('.react-flow__node')) {
    const box = node.getBoundingClientRect();
    if (box.bottom < pane.top || box.top > pane.bottom || box.right < pane.left || box.left > pane.right) continue;
    for (const el of node.querySelectorAll('*')) {
      if (![...el.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) continue;
      smallest = Math.min(smallest, parseFloat(getComputedStyle(el).fontSize) * zoom);
      seen += 1;
    }
  }
  return { smallest, seen, zoom };
}"""



def _sign_up(live_stack: Any, page: Any) -> None:
    sign_up_and_open_project(page, live_stack.url, Clicks(), f"readable_{uuid.uuid4().hex[:8]}", "Vision")
    page.get_by_role("heading", name="Vision", level=1).wait_for()


def _valid(page: Any, timeout: float = 30000) -> None:
    page.get_by_test_id("validation-status").filter(has_text=re.compile("^Valid")).wait_for(timeout=timeout)


def _tool(page: Any, name: str) -> Any:
    return page.get_by_role("toolbar", name="Editor").get_by_role("button", name=name, exact=True)


def test_lenet5_reads_top_to_bottom_at_a_readable_size(live_stack: Any, sized_page: Any) -> None:
    page = sized_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_up(live_stack, page)
    page.get_by_role("button", name="Use template LeNet-5").click()
    page.get_by_test_id("graph-editor").wait_for()
    _valid(page)
    page.wait_for_timeout(400)  # the opening fit lands on the next frame

    # Top to bottom: each layer below the one that feeds it, on one column.
    boxes = [page.get_by_test_id(f"node-{n}").bounding_box() for n in ("image", "c1", "tanh1", "s2")]
    assert all(a["y"] + a["height"] < b["y"] for a, b in zip(boxes, boxes[1:], strict=False)), boxes
    assert all(abs((a["x"] + a["width"] / 2) - (b["x"] + b["width"] / 2)) < 40 for a, b in zip(boxes, boxes[1:], strict=False))
    text = page.evaluate(SMALLEST_TEXT)
    assert text["seen"] > 10 and text["smallest"] >= 11, text
    if page.viewport_name == "1440x900":
        page.screenshot(path=str(IMAGES / "canvas.png"))

    # Fit view keeps it readable: it pans to the inputs instead of shrinking 13 layers to dots.
    page.mouse.move(700, 400)
    for _ in range(8):
        page.mouse.wheel(0, 400)  # zoom far out
    page.wait_for_timeout(300)
    assert page.evaluate(SMALLEST_TEXT)["zoom"] < 0.5
    _tool(page, "Fit view").click()
    page.wait_for_timeout(500)
    text = page.evaluate(SMALLEST_TEXT)
    assert text["smallest"] >= 11, text
    assert page.get_by_test_id("node-image").is_visible()
    assert errors == []


def test_enter_validates_at_once(live_stack: Any, sized_page: Any) -> None:
    """With the page's timers frozen (Playwright's clock), a debounced check could never leave; a
    commit on Enter still shows its new shape, so it was sent at once."""
    page = sized_page
    _sign_up(live_stack, page)
    page.get_by_role("button", name="Use template LeNet-5").click()
    page.get_by_test_id("graph-editor").wait_for()
    _valid(page)
    page.get_by_test_id("node-c1").locator(".layer-node__header").click()
    channels = page.get_by_test_id("param-out_channels").get_by_role("spinbutton")
    page.clock.install()
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/graphs/validate/") else None)
    channels.fill("9")
    channels.press("Enter")
    page.get_by_test_id("shape-c1-out").filter(has_text="32×9×28×28").wait_for(timeout=10000)
    assert len(sent) == 1
    # Undo is a commit too.
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.get_by_test_id("shape-c1-out").filter(has_text="32×6×28×28").wait_for(timeout=10000)
    assert len(sent) == 2


def test_resnet50_opens_folded_and_unfolds_in_place(live_stack: Any, sized_page: Any) -> None:
    page = sized_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script("""
      window.__layoutShown = false;
      new MutationObserver(() => { if (document.querySelector('[data-testid="layout-progress"]')) window.__layoutShown = true; })
        .observe(document, { subtree: true, childList: true });
    """)
    _sign_up(live_stack, page)
    page.get_by_role("list", name="Templates").wait_for()
    page.get_by_label("Architecture", exact=True).select_option("resnet50")
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("graph-editor").wait_for(timeout=120000)
    _valid(page, timeout=60000)
    page.get_by_test_id("total-params").filter(has_text="Params 25.6M").wait_for()
    page.wait_for_timeout(400)

    # Imported laid out: no layout ran as it opened. The stem, then 16 folded blocks in 4 stages.
    assert page.evaluate("window.__layoutShown") is False
    assert page.locator(".react-flow__node-fold").count() == 16
    page.get_by_test_id("frame-layer1").wait_for()
    block = page.get_by_test_id("group-layer1.0")
    assert "12 layers" in block.inner_text()
    page.get_by_test_id("group-shape-layer1.0").filter(has_text="32×256×56×56").wait_for()
    text = page.evaluate(SMALLEST_TEXT)
    assert text["smallest"] >= 11, text
    if page.viewport_name == "1440x900":
        page.screenshot(path=str(IMAGES / "resnet50.png"))

    # Unfold in place: the block's layers appear where the box was; what is above stays put.
    pane = page.get_by_test_id("canvas").bounding_box()
    page.mouse.move(pane["x"] + 60, pane["y"] + pane["height"] - 40)
    page.mouse.down()
    page.mouse.move(pane["x"] + 60, pane["y"] + pane["height"] - 340, steps=8)  # pan the block up into view
    page.mouse.up()
    maxpool = page.get_by_test_id("node-maxpool").bounding_box()
    folded_top = block.bounding_box()["y"]
    page.get_by_role("button", name="Expand layer1.0").click()
    first = page.get_by_test_id("node-layer1_0_conv1")
    first.wait_for()
    assert page.get_by_test_id("node-maxpool").bounding_box() == maxpool
    assert abs(first.bounding_box()["y"] - folded_top) < 40
    assert page.locator(".react-flow__node-fold").count() == 15
    page.get_by_role("button", name="Collapse layer1.0").click()
    page.get_by_test_id("group-layer1.0").wait_for()
    first.wait_for(state="detached")

    # Auto layout runs in a Web Worker, says so while it runs, and lands as one undoable step.
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("l")
    page.wait_for_function("!document.querySelector('[data-testid=\"layout-progress\"]')")
    assert page.evaluate("window.__layoutShown") is True
    assert page.evaluate("performance.getEntriesByType('resource').some((e) => e.name.includes('layoutWorker'))")
    assert _tool(page, "Undo").is_enabled()
    assert page.locator(".react-flow__node-fold").count() == 16
    assert errors == []
