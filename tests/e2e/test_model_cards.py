"""Models that appear, cards people read, one vocabulary (issue 16), in a real browser against the
real server and worker, at 1440x900 and 1280x720:

- a run the worker trains is listed under "Models & deployments" as soon as it succeeds, with its
  test accuracy, and nobody clicked "Open the trained model";
- its card leads with the test accuracy, large, then the input in words ("grey image, 8×8, scaled
  to 0–1, …"), a validation/test metrics table and a collapsed training configuration table;
- a pruned model's card carries its own measured figures, not its parent's;
- the run page shows the test metrics as numbers beside the curves;
- every project page's breadcrumbs name the project; the empty Deployments list says what to do;
- precision is fp32 / fp16 / bf16 / dynamic on the canvas as on the Train form; the market's
  modality filter lists each kind of data once.

Screenshot: model-card.png under var/screenshots/ (or $VMB_SCREENSHOTS_DIR, e.g. docs/images)."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .journey import IMAGES, Clicks, as_user, poll, section, sign_up_and_open_project, train_digits_lenet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
VIEWPORTS = [(1440, 900), (1280, 720)]


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _within_viewport(page: Any, locator: Any) -> None:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)


def _prepare(client: Any, project_id: int, stack: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Train a run, check it is a model at once, and prune that model: (run, trained, pruned)."""
    run = train_digits_lenet(client, project_id, stack)
    # Listed at once and counted by the API: nobody opened it.
    models = client.get(f"/api/v1/models/?project={project_id}").json()
    assert models["count"] == 1 and models["results"][0]["run"] == run["id"], models
    trained = models["results"][0]
    # A pruned model of it, made by the worker: its card has its own figures.
    pruned = client.post(f"/api/v1/models/{trained['id']}/prune/", {"config": {"ratio": 0.5}},
                         format="json").json()
    poll(lambda: client.get(f"/api/v1/models/{pruned['id']}/").json()["status"] in ("succeeded", "failed"), 180,
         "the pruned model")
    pruned = client.get(f"/api/v1/models/{pruned['id']}/").json()
    assert pruned["status"] == "succeeded", pruned
    return run, trained, pruned


def test_models_appear_with_cards_people_read(live_stack: Any, browser: Any, page: Any) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    username = f"cards_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, Clicks(), username, "Digits")
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    run, trained, pruned = as_user(username, lambda client: _prepare(client, project_id, live_stack))
    test_accuracy = f"{run['test_metrics']['accuracy'] * 100:.2f}%"
    pruned_test = pruned["card"]["metrics"]["test"]["accuracy"]
    assert pruned_test != run["test_metrics"]["accuracy"]  # measured on the pruned model, not copied

    for width, height in VIEWPORTS:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      storage_state=page.context.storage_state())
        view = context.new_page()
        view.set_default_timeout(15000)
        view.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        _check_pages(view, live_stack.url, project_id, run, trained, pruned, test_accuracy, f"{pruned_test * 100:.2f}%")
        if (width, height) == VIEWPORTS[0]:
            # The card with its configuration open, in a tall window scrolled to the card's heading
            # (an element capture would run under the sticky top bar).
            view.set_viewport_size({"width": width, "height": 1500})
            view.goto(f"{live_stack.url}/projects/{project_id}/models/{trained['id']}")
            card = view.get_by_role("region", name="Model card")
            card.get_by_test_id("headline-metric").wait_for()
            view.locator("summary", has_text="Training configuration").click()
            view.evaluate("window.scrollTo(0, document.getElementById('card-heading').getBoundingClientRect().top"
                          " + window.scrollY - 80)")
            view.screenshot(path=str(IMAGES / "model-card.png"))
        context.close()
    assert console_errors == [], console_errors


def _check_pages(page: Any, url: str, project_id: int, run: dict[str, Any], trained: dict[str, Any],
                 pruned: dict[str, Any], test_accuracy: str, pruned_accuracy: str) -> None:
    click = Clicks()
    page.goto(f"{url}/projects/{project_id}/models")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    crumbs.get_by_role("link", name="Digits", exact=True).wait_for()
    listed = page.get_by_role("list", name="Models")
    item = listed.get_by_role("listitem").filter(has=page.get_by_role("link", name=trained["name"], exact=True))
    item.get_by_text(f"{test_accuracy} test accuracy").wait_for()
    # Nothing deployed yet: the list says so and offers the next step.
    page.get_by_text("Nothing is deployed.").wait_for()
    assert page.get_by_role("link", name=re.compile(r"^Deploy ")).count() == 1
    _no_sideways_scroll(page)
    width = page.viewport_size["width"]
    page.screenshot(path=str(IMAGES / f"models-list-{width}.png"))

    # The trained model's card: headline, input in words, metrics table, configuration collapsed.
    click(listed.get_by_role("link", name=trained["name"], exact=True))
    card = page.get_by_role("region", name="Model card")
    headline = card.get_by_test_id("headline-metric")
    headline.wait_for()
    assert headline.inner_text().split() == [test_accuracy, "test", "accuracy"]
    _within_viewport(page, headline)
    assert int(headline.locator(".model-card__figure").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    contract = card.get_by_test_id("input-contract").inner_text()
    assert contract.startswith("grey image, 8×8, scaled to 0–1, resized to 32×32 for the model"), contract
    metrics = card.get_by_role("table", name="Metrics")
    accuracy_row = metrics.get_by_role("row", name=re.compile("^Accuracy"))
    assert accuracy_row.get_by_role("cell").nth(1).inner_text() == test_accuracy
    config = card.locator("details", has_text="Training configuration")
    assert config.get_attribute("open") is None
    click(config.locator("summary"))
    table = card.get_by_role("table", name="Training configuration")
    assert table.get_by_role("row", name=re.compile(r"^epochs\s+2$")).count() == 1
    assert "precision precision mode" not in table.inner_text()
    assert crumbs.get_by_text(trained["name"], exact=True).get_attribute("aria-current") == "page"
    _no_sideways_scroll(page)

    # The pruned model's card shows its own test accuracy.
    page.goto(f"{url}/projects/{project_id}/models/{pruned['id']}")
    page.get_by_role("region", name="Model card").get_by_test_id("headline-metric").filter(
        has_text=pruned_accuracy).wait_for()
    page.get_by_text(re.compile(r"^Measured on this model on dataset version")).wait_for()

    # The run page: the test metrics as numbers beside the curves; crumbs name the project.
    page.goto(f"{url}/projects/{project_id}/runs/{run['id']}")
    panel = page.get_by_role("figure", name="Test metrics (best checkpoint)")
    panel.get_by_test_id("run-headline-metric").filter(has_text=test_accuracy).wait_for()
    assert panel.get_by_role("row", name=re.compile("^Accuracy")).get_by_role("cell").nth(1).inner_text() == test_accuracy
    assert panel.evaluate("e => e.parentElement.classList.contains('charts')")  # in the grid of curves
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / f"run-test-metrics-{width}.png"))
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Digits", exact=True).wait_for()
    _no_sideways_scroll(page)

    # The Train page's crumbs name the project too.
    section(page, click, "Train")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Digits", exact=True).wait_for()

    # One vocabulary: the canvas's precision names are the Train form's; one modality list.
    precision = page.get_by_label("Precision", exact=True)
    precision.wait_for()
    form_names = precision.locator("option").all_inner_texts()
    page.goto(f"{url}/projects/{project_id}/graphs/{run['graph']}")
    canvas = page.get_by_label("Precision", exact=True)
    canvas.wait_for()
    assert canvas.locator("option").all_inner_texts() == form_names == ["fp32", "fp16", "bf16", "dynamic"]
    # The canvas's crumbs name the project as every other page's do.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Digits", exact=True).wait_for()
    page.goto(f"{url}/market")
    modality = page.get_by_label("Modality")
    modality.wait_for()
    assert modality.locator("option").all_inner_texts() == ["Any", "Images", "CT scans", "Tables", "Text"]
