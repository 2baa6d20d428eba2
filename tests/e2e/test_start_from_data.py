"""Start from the data, in a real browser against a real server and worker: upload scikit-learn's
digits as a zip of PNG class folders, press "Build a model for this data", train with the proposed
graph and deploy it; from the ready dataset to a deployed model takes 8 clicks or fewer, at a
laptop's and a small screen's size. And the Train form's warning when a graph's input differs from
the data, with its "Adapt the input to this dataset". The screenshot of the notes of what was
adapted goes to var/screenshots/start-from-data.png (or $VMB_SCREENSHOTS_DIR).

Needs a built frontend: ``frontend/dist``, or a private build named by ``VMB_FRONTEND_DIST``."""
from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .journey import IMAGES, Clicks, as_user, fill_field, poll, section, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MOST_CLICKS = 8
PER_CLASS = 40  # 400 digits: enough to learn from in a few CPU epochs, quick to upload and ingest


def digits_zip(path: Path, per_class: int = PER_CLASS) -> Path:
    """scikit-learn's 8x8 digits (values 0-16) as greyscale PNGs in one folder per class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    data = load_digits()
    seen: dict[int, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for image, label in zip(data.images, data.target, strict=True):
            if seen.get(int(label), 0) >= per_class:
                continue
            seen[int(label)] = seen.get(int(label), 0) + 1
            buffer = io.BytesIO()
            Image.fromarray((image * 255 / 16).round().astype("uint8"), mode="L").save(buffer, format="PNG")
            archive.writestr(f"digits/{label}/{label}_{seen[int(label)]:03d}.png", buffer.getvalue())
    return path


@pytest.fixture
def sized_page(browser: Any, request: Any) -> Iterator[Any]:
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def _upload_digits(page: Any, click: Clicks, path: Path) -> None:
    section(page, click, "Datasets")
    page.get_by_label("Kind").select_option("image")
    click.choose_file(page.get_by_label("Dataset file"), str(path))
    page.get_by_role("list", name="Datasets").get_by_text(re.compile(r"^Ready")).wait_for(timeout=240_000)


@pytest.mark.parametrize("sized_page", [(1440, 900), (1280, 720)], indirect=True, ids=["1440x900", "1280x720"])
def test_uploaded_digits_to_a_deployed_model_in_few_clicks(live_stack: Any, sized_page: Any, tmp_path: Path) -> None:
    page = sized_page
    width = page.viewport_size["width"]
    setup = Clicks()
    sign_up_and_open_project(page, live_stack.url, setup, f"sfd_{uuid.uuid4().hex[:8]}", "Digits")
    _upload_digits(page, setup, digits_zip(tmp_path / "digits.zip"))

    # From here on every click counts: the dataset is uploaded and ready.
    click = Clicks()
    build = page.get_by_role("button", name="Build a model for this data")
    build.wait_for(timeout=30_000)
    assert build.is_visible() and build.bounding_box()["y"] < page.viewport_size["height"], "the button is below the fold"
    click(build)
    page.wait_for_url(re.compile(r"/train\?graph_version=\d+&dataset_version=\d+$"))
    notes = page.get_by_test_id("change-notes")
    notes.wait_for()
    text = notes.inner_text()
    assert "Built for digits" in text and "“digits model” v1" in text, text
    assert "started from the LeNet-5 template" in text and "input 'image' set to 1×8×8 (grey) (was 1×32×32)" in text
    assert "'same' padding so 8×8 fits" in text, text
    built_version = re.search(r"graph_version=(\d+)", page.url).group(1)
    page.get_by_role("option", name="digits model (v1)").wait_for(state="attached")
    poll(lambda: page.get_by_label("Graph").input_value() == built_version, 15, "the built graph chosen")
    assert page.get_by_test_id("input-mismatch").count() == 0  # the graph takes the data as it is
    page.get_by_test_id("run-estimate").filter(has_text="Training needs about").wait_for(timeout=30_000)
    if width == 1440:
        notes.scroll_into_view_if_needed()
        page.screenshot(path=str(IMAGES / "start-from-data.png"))
    fill_field(page.get_by_label("Epochs"), "4")  # typed, not clicked: the defaults otherwise
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=300_000)
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    plan = page.request.get(f"{live_stack.url}/api/v1/runs/{run_id}/").json()["plan"]
    assert plan["resize"] is None, plan  # no silent resize: the graph was made for 8×8

    click(page.get_by_role("button", name="Open the trained model"))
    page.get_by_role("heading", name="Model card").wait_for(timeout=60_000)
    click(page.get_by_role("button", name="Deploy", exact=True))
    page.get_by_test_id("deployment-status").filter(has_text="ready").wait_for(timeout=180_000)
    print(f"\nstart from data at {width}px: {click.count} clicks from the ready dataset to a deployed model")
    assert click.count <= MOST_CLICKS, click.count


def test_train_form_warns_of_a_resize_and_adapts_the_input(live_stack: Any, page: Any, tmp_path: Path) -> None:
    click = Clicks()
    username = f"sfd_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, click, username, "Digits")
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))
    _upload_digits(page, click, digits_zip(tmp_path / "digits.zip", per_class=12))
    made = as_user(username, lambda api: api.post("/api/v1/graphs/from-template/",
                                                  {"project": project_id, "template": "lenet5"}, format="json"))
    assert made.status_code == 201, made.json()
    lenet_v1 = made.json()["latest_version"]["id"]

    section(page, click, "Train")
    page.get_by_role("option", name=re.compile(r"digits")).wait_for(state="attached")
    warning = page.get_by_test_id("input-mismatch")
    warning.wait_for(timeout=30_000)
    text = warning.inner_text()
    assert "The graph takes 1×32×32 samples; this dataset’s are 1×8×8." in text, text
    assert "Training would resize every image to 32×32" in text, text
    click(warning.get_by_role("button", name="Adapt the input to this dataset"))
    notes = page.get_by_test_id("change-notes")
    notes.filter(has_text="Adapted the input").wait_for(timeout=30_000)
    assert "input 'image' set to 1×8×8 (grey) (was 1×32×32)" in notes.inner_text()
    warning.wait_for(state="detached", timeout=30_000)
    page.get_by_role("option", name=re.compile(r"LeNet-5 \(v2\)")).wait_for(state="attached")
    chosen = int(page.get_by_label("Graph").input_value())
    assert chosen != lenet_v1
    page.get_by_test_id("run-estimate").filter(has_text="Training needs about").wait_for(timeout=30_000)
    page.screenshot(path=str(IMAGES / "start-from-data-adapt.png"))
