"""The CT journey in a real browser against a real server and worker: sign up, create a project,
start from the 3D CNN template, add the synthetic chest CT sample (200 patients as real DICOM
series), scroll its slices and change the window preset, adapt the template's input to the
sample's 16x48x48 volumes with the Train form's one click, train three epochs on the CPU with the
batch the form picks for a small set while the charts fill in, deploy the model and predict through
Try it with zips of one DICOM series made by the sample's own generator: each gets a class and its
probabilities, and the deployment counts both requests. Whether they are right is not asserted: the
synthetic chest CT is built so that no global statistic separates it, and three epochs of this
small CNN do not learn its lesions (docs/bench/ct.md); the printed line says how many were. The
segmentation half (the same patients with their lesion masks, a 3-D U-Net, the predicted mask over
the volume) is in test_journey_ct_segmentation.py.
Screenshots go to var/screenshots/journey-ct*.png (or $VMB_SCREENSHOTS_DIR); the number of clicks
and the minutes are printed, and both are bounded."""
from __future__ import annotations

import re
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pipelines.datasets.samples import CT_OPTIONS, CT_PATIENTS, CT_SIZE, CT_SLICES

from .journey import (
    IMAGES,
    Clicks,
    fill_field,
    open_advanced_settings,
    poll,
    section,
    sign_up_and_open_project,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
EPOCHS = 3
CLASSES = {"normal", "pneumonia"}
# The sample's geometry (pipelines/datasets/samples.py): 200 patients of 48 x 48 pixels, the 16
# slices a 2.5 mm scan would get (8 to 30 written, as each scanner's thickness makes), resampled to
# 16 x 48 x 48 at ingest.
SLICES, SIZE, DEPTH = CT_SLICES, CT_SIZE, CT_OPTIONS["volume_shape"][0]


def _series_zip_case(folder: Path, pneumonia: bool, seed: int) -> Path:
    """A chest CT patient the sample's generator makes, not in the dataset (another seed), as the
    zip of its one DICOM series (slices in shuffled file order, its own storage and fake PHI):
    /predict reads it with the ingest's own DICOM reader and the dataset's recorded recipe."""
    from pipelines.datasets.synthetic_ct import write_patient

    written = write_patient(folder / f"case-{seed}", 1 if pneumonia else 0, slices=SLICES, size=SIZE, seed=seed)
    assert written.label == ("pneumonia" if pneumonia else "normal")
    path = folder / f"{written.label}-{seed}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in written.files:
            archive.write(file, f"series/{file.name}")
    return path


def _mean_brightness(image: Any) -> float:
    """The mean grey level (0-255) of a loaded preview image, read back through a canvas."""
    return float(image.evaluate(
        """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
        let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i]; return sum / (d.length / 4); }"""))


def _loaded(image: Any, text: str) -> bool:
    return bool(image.evaluate("(img, t) => img.alt.includes(t) && img.complete && img.naturalWidth > 0", text))


def test_chest_ct_from_nothing_to_a_deployed_model(live_stack: Any, page: Any, tmp_path: Path) -> None:
    started = time.monotonic()
    click = Clicks()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    sign_up_and_open_project(page, live_stack.url, click, f"ct_{uuid.uuid4().hex[:8]}", "Chest CT")

    # The 3D CNN template (it opens in the editor; come back through the project).
    click(page.get_by_role("button", name="Use template 3D CNN for CT volumes"))
    page.wait_for_url(re.compile(r"/graphs/\d+$"))
    page.goto(page.url.rsplit("/graphs/", 1)[0])

    # The chest CT sample in one click; the worker reads its DICOM series.
    section(page, click, "Datasets")
    adding = time.monotonic()
    click(page.get_by_role("button", name="Add sample chest_ct", exact=True))
    page.get_by_text(re.compile(r"^Ready$")).first.wait_for(timeout=180_000)
    bars = page.get_by_role("img", name="Class counts").locator("[data-label]")
    bars.first.wait_for()
    assert bars.count() == 2
    ingest_seconds = time.monotonic() - adding
    counts = {bars.nth(i).get_attribute("data-label"): int(bars.nth(i).locator("text").last.text_content() or 0)
              for i in range(2)}
    assert counts == {"normal": CT_PATIENTS // 2, "pneumonia": CT_PATIENTS // 2}, counts

    # One volume in the viewer: scroll its slices, then change the window.
    click(page.get_by_role("list", name="Sample previews").get_by_role("button").first)
    viewer = page.get_by_role("group", name=re.compile(r"^CT sample \d+$"))
    image = viewer.get_by_role("img")
    poll(lambda: _loaded(image, "lung window"), 30, "the CT preview")
    middle = image.get_attribute("alt")
    slider = viewer.get_by_role("slider")
    click.press(slider, "End")
    poll(lambda: image.get_attribute("alt") != middle and _loaded(image, "lung window"), 30, "another slice")
    assert f"slice {DEPTH - 1}, lung window" in (image.get_attribute("alt") or ""), image.get_attribute("alt")
    click.press(slider, "Home")
    poll(lambda: "slice 0," in (image.get_attribute("alt") or "") and _loaded(image, "lung window"), 30,
         "the first slice")
    lung = _mean_brightness(image)
    click(viewer.get_by_role("button", name="bone"))
    poll(lambda: _loaded(image, "bone window"), 30, "the bone window")
    bone = _mean_brightness(image)
    # Air-filled lungs are mid-grey in a lung window and black in a bone window.
    assert bone < lung - 20, (lung, bone)
    assert viewer.get_by_role("button", name="bone").get_attribute("aria-pressed") == "true"
    # The page lists all 200 series: the shot is the viewer and what is around it, not the whole page.
    page.set_viewport_size({"width": 1280, "height": 1400})
    viewer.evaluate("v => v.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(IMAGES / "journey-ct-datasets.png"))

    # The template takes 32x64x64 volumes: the Train form says so and adapts its input in one click
    # (a new version of the graph; global pooling makes the rest fit any size).
    section(page, click, "Train")
    page.get_by_role("option", name=re.compile(r"chest CT")).wait_for(state="attached")
    warning = page.get_by_test_id("input-mismatch")
    warning.wait_for(timeout=30_000)
    assert f"this dataset’s are 1×{DEPTH}×{SIZE}×{SIZE}" in warning.inner_text(), warning.inner_text()
    click(warning.get_by_role("button", name="Adapt the input to this dataset"))
    notes = page.get_by_test_id("change-notes").filter(has_text="Adapted the input")
    notes.wait_for(timeout=30_000)
    assert f"set to 1×{DEPTH}×{SIZE}×{SIZE}" in notes.inner_text(), notes.inner_text()
    warning.wait_for(state="detached", timeout=30_000)
    # Three epochs on the CPU; the charts and the ROC curve fill in live. 200 volumes: the form
    # picks batches of 16, 10 steps an epoch on the 160 training volumes.
    assert page.get_by_label("Batch size").input_value() == "16"
    fill_field(page.get_by_label("Epochs"), str(EPOCHS))
    open_advanced_settings(page, click)
    page.get_by_label("Device").select_option("cpu")
    click(page.get_by_role("button", name="Start training"))
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    page.get_by_role("status", name="Live updates: open").wait_for(timeout=30_000)
    training_started = time.monotonic()
    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=300_000)
    training_seconds = time.monotonic() - training_started
    epoch_chart = page.get_by_role("img", name="Loss per epoch")
    poll(lambda: int(epoch_chart.get_attribute("data-points") or 0) == 2 * EPOCHS, 30, "every epoch on the chart")
    # Only step 20 (stats_every) reports a loss, in the third epoch; the first two epochs show their
    # mean at their last step instead of leaving the per-step chart all but empty.
    assert page.get_by_role("img", name="Loss per step").get_attribute("data-points") == "3"
    # Two classes: a one-vs-rest curve for each, and the micro average.
    assert page.get_by_role("img", name="ROC curve (validation, latest epoch)").get_attribute("data-curves") == "3"
    page.get_by_role("table", name=re.compile("Confusion matrix")).wait_for()
    page.screenshot(path=str(IMAGES / "journey-ct-run.png"), full_page=True)

    # Deploy, and predict a pneumonia case and a normal one from zips of their DICOM series.
    click(page.get_by_role("button", name="Open the trained model"))
    page.get_by_role("heading", name="Model card").wait_for(timeout=60_000)
    click(page.get_by_role("button", name="Deploy", exact=True))
    page.get_by_test_id("deployment-status").filter(has_text="ready").wait_for(timeout=180_000)
    upload = page.get_by_label("DICOM series (.zip), DICOM slice (.dcm) or NIfTI volume (.nii, .nii.gz)")
    predicted = page.get_by_test_id("predicted-class")
    answers = {}
    for pneumonia, seed in ((True, 101), (False, 102)):
        click.choose_file(upload, _series_zip_case(tmp_path, pneumonia, seed))
        try:  # the previous answer goes away while the new one is on its way
            predicted.wait_for(state="detached", timeout=5_000)
        except Exception:
            pass
        predicted.wait_for(timeout=60_000)
        shares = page.get_by_role("list", name="Probabilities").get_by_role("listitem")
        shown = {shares.nth(i).locator(".probabilities__label").inner_text():
                 float(re.findall(r"([\d.]+) %", shares.nth(i).inner_text())[-1]) for i in range(shares.count())}
        assert set(shown) == CLASSES, shown
        assert abs(sum(shown.values()) - 100) <= 0.2, shown
        answers["pneumonia" if pneumonia else "normal"] = f"{predicted.inner_text()} ({shown['pneumonia']} % pneumonia)"
    # Both requests counted as soon as the page reads the deployment again.
    page.get_by_text(re.compile(r"^Requests 2 · errors 0")).wait_for(timeout=15_000)
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(IMAGES / "journey-ct-deploy.png"))

    minutes = (time.monotonic() - started) / 60
    right = sum(answer.startswith(truth) for truth, answer in answers.items())
    print(f"\nCT journey: {click.count} clicks, {minutes:.1f} minutes (sample written and ingested in "
          f"{ingest_seconds:.0f} s, training {training_seconds:.0f} s), "
          f"{right}/2 cases right: {answers}")
    assert all(re.fullmatch(r"(normal|pneumonia) \([0-9.]+ % pneumonia\)", answer) for answer in answers.values()), answers
    assert training_seconds < 120  # three epochs of 200 volumes of 16x48x48: under a minute on two cores
    assert click.count < 40
    assert minutes < 10
    assert console_errors == [], console_errors
