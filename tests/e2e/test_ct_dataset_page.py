"""The CT dataset page in a real browser, at 1440x900 and 1280x720: a zip of pydicom's bundled CT
files and small series made here is uploaded and ingested; the page shows the series table
(pseudonyms, slices, spacing, thickness, orientation, HU range, kVp) with each series' warnings
under it, the HU histogram, the chosen series in three planes whose image follows the window
preset and the slice sliders, and the de-identification status with its profile.
The 1440x900 page is saved as docs/images/ct-dataset-page.png."""
from __future__ import annotations

import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.ct_series import AXIAL, CORONAL, write_bundled, write_series

from .journey import IMAGES, Clicks, section, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "ct-dataset-page.png"

# Series are numbered in the order of their files' paths: normal first, then pneumonia.
EXPECTED = {
    "series 1 (normal)": ["single_slice"],  # CT_small.dcm as it is
    "series 2 (normal)": [],
    "series 3 (normal)": ["irregular_spacing"],
    "series 4 (normal)": ["missing_slices", "irregular_spacing"],
    "series 5 (pneumonia)": ["single_slice"],  # 693_J2KI.dcm
    "series 6 (pneumonia)": ["single_slice", "gantry_tilt"],  # J2K_pixelrep_mismatch.dcm
    "series 7 (pneumonia)": ["non_axial"],
    "series 8 (pneumonia)": ["mixed_orientation"],
}


def _ct_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        write_bundled(archive, "chest/normal/01_small", "CT_small.dcm")
        write_series(archive, "chest/normal/02_regular", [0.0, 2.5, 5.0, 7.5, 10.0, 12.5], shift=6, kvp=100.0)
        write_series(archive, "chest/normal/03_irregular", [0.0, 1.0, 2.2, 3.0, 4.0])
        write_series(archive, "chest/normal/04_missing", [0.0, 2.0, 4.0, 10.0, 12.0])
        write_bundled(archive, "chest/pneumonia/05_j2k", "693_J2KI.dcm")
        write_bundled(archive, "chest/pneumonia/06_tilted", "J2K_pixelrep_mismatch.dcm")
        write_series(archive, "chest/pneumonia/07_coronal", [0.0, 3.0, 6.0], orientations=[CORONAL] * 3)
        write_series(archive, "chest/pneumonia/08_mixed", [0.0, 2.0, 4.0], orientations=[AXIAL, AXIAL, CORONAL])
    return path


def _picture(image: Any) -> str:
    """What a loaded plane image shows: its pixels, read back through a canvas, as a data URL."""
    image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return str(image.evaluate("""img => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
        c.height = img.naturalHeight; c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL(); }"""))


def test_ct_dataset_page(live_stack: Any, sized_page: Any, tmp_path: Path) -> None:
    page = sized_page
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    click = Clicks()
    sign_up_and_open_project(page, live_stack.url, click, f"ctpage_{uuid.uuid4().hex[:8]}", "Chest CT page")
    section(page, click, "Datasets")
    page.get_by_label("Kind").select_option("ct_dicom")
    click.choose_file(page.get_by_label("Dataset file"), str(_ct_zip(tmp_path / "chest.zip")))
    page.get_by_role("region", name="Split preview").wait_for(timeout=60_000)
    click(page.get_by_role("button", name="Start the ingest anyway"))
    page.get_by_role("list", name="Datasets").get_by_text(re.compile(r"^Ready")).wait_for(timeout=180_000)
    details = page.get_by_role("region", name="Dataset details")

    # De-identification: its status and profile.
    details.get_by_role("heading", name="Patient data").wait_for()
    patient = details.get_by_role("region", name="Patient data").inner_text()
    assert "No identifiable data kept" in patient and "deleted after the ingest" in patient
    assert "none applied: no DICOM file is kept" in patient and "salted pseudonyms" in patient

    # The series table, each series' warnings in the row under it.
    table = details.get_by_role("table", name="Series")
    heading = details.get_by_role("heading", name=re.compile(r"^Series: 8")).inner_text()
    assert re.search(r"9 warnings in 7 of 8 series", heading), heading
    small = table.get_by_role("row", name="series 1 (normal)", exact=True).inner_text()
    assert re.search(r"patient-[0-9a-f]{12}", small) and re.search(r"study-[0-9a-f]{12}", small)
    assert "5 × 0.66 × 0.66" in small and "axial" in small and "-896 … 1167" in small and "120" in small
    regular = table.get_by_role("row", name="series 2 (normal)", exact=True).inner_text()
    assert "\t6\t" in regular and regular.endswith("\t100") and "2.50 × 0.66 × 0.66" in regular and "100" in regular
    assert table.get_by_role("row", name="series 5 (pneumonia)", exact=True).inner_text().endswith("\t140")
    assert "oblique axial" in table.get_by_role("row", name="series 6 (pneumonia)", exact=True).inner_text()
    assert "coronal" in table.get_by_role("row", name="series 7 (pneumonia)", exact=True).inner_text()
    for name, codes in EXPECTED.items():
        warnings = table.get_by_role("list", name=f"Warnings of {name}")
        if not codes:
            assert warnings.count() == 0, name
            continue
        shown = warnings.get_by_role("listitem").evaluate_all("items => items.map(i => i.dataset.code)")
        assert shown == codes, (name, shown)
    irregular = table.get_by_role("list", name="Warnings of series 3 (normal)")
    assert "Irregular spacing, resampled" in irregular.inner_text() and "Positions: 0, 1, 2.2, 3, 4" in irregular.inner_text()
    irregular.get_by_role("img", name="Slice positions (mm): 0, 1, 2.2, 3, 4").wait_for()
    assert "replicated into 32 identical slices" in table.get_by_role("list", name="Warnings of series 1 (normal)").inner_text()
    assert "22.0°" in table.get_by_role("list", name="Warnings of series 6 (pneumonia)").inner_text()

    # The HU histogram.
    histogram = details.get_by_role("img", name=re.compile("HU histogram"))
    assert histogram.locator("rect[data-count]").count() == 64

    # Three planes of the chosen series: the preset and the sliders change the picture.
    click(table.get_by_role("button", name="View series 2 (normal)"))
    details.get_by_role("heading", name=re.compile(r"Planes of series 2 \(normal\)")).wait_for()
    planes = {name: details.get_by_role("figure", name=f"{name} plane").get_by_role("img")
              for name in ("Axial", "Coronal", "Sagittal")}
    lung = {name: _picture(image) for name, image in planes.items()}
    assert len(set(lung.values())) == 3
    click(details.get_by_role("button", name=re.compile(r"^Mediastinum W350 L50")))
    assert "window=mediastinum" in (planes["Axial"].get_attribute("src") or "")
    mediastinum = _picture(planes["Axial"])
    assert mediastinum != lung["Axial"]
    slider = details.get_by_role("slider", name=re.compile("Axial slice"))
    click.press(slider, "End")
    assert "Axial slice 32 / 32" in details.get_by_role("figure", name="Axial plane").inner_text()
    assert "slice=31" in (planes["Axial"].get_attribute("src") or "")
    assert _picture(planes["Axial"]) != mediastinum
    # Nothing spills sideways at this size: the wide table scrolls in its own box.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right
        > document.documentElement.clientWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className)""")
    assert overflow <= 0, f"{page.viewport_name}: the page is {overflow}px wider than the window: {wide}"
    # For the picture only: the top bar stays at the top instead of floating over the middle.
    page.add_style_tag(content=".top-bar { position: static !important; }")
    page.evaluate("document.querySelector('.ct-series__scroll').scrollLeft = 0")
    details.screenshot(path=str(IMAGES / f"ct-dataset-page-{page.viewport_name}.png"))
    if page.viewport_name == "1440x900":
        details.screenshot(path=str(DOCS_IMAGE))

    click.press(details.get_by_role("slider", name=re.compile("Sagittal slice")), "Home")
    assert "slice=0" in (planes["Sagittal"].get_attribute("src") or "")
    _picture(planes["Sagittal"])
    assert console_errors == [], console_errors
