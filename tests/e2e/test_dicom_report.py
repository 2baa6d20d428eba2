"""A DICOM upload in a real browser: before the ingest the form shows how many patients each split
would get and warns that validation and test would be empty; after it, the dataset page says
what became of the patient data and lists the warnings of each series (one slice replicated,
irregular positions resampled, with the positions). No identifier of the upload reaches the page.
Screenshots go to var/screenshots/dicom-*.png (or $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.dicom_phi import patients, series_zip

from .journey import IMAGES, Clicks, section, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_split_warning_before_the_ingest_then_the_series_report(live_stack: Any, page: Any, tmp_path: Path) -> None:
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    people = patients(3, tag=uuid.uuid4().hex[:6].upper())
    people[1].positions = [0.0]  # one slice
    people[2].positions = [-99.5, 103.0, 104.3, 105.5]  # irregular, with a wide gap
    archive = series_zip(tmp_path / "chest.zip", people)
    click = Clicks()
    sign_up_and_open_project(page, live_stack.url, click, f"ct_{uuid.uuid4().hex[:8]}", "Chest CT")
    section(page, click, "Datasets")

    page.get_by_label("Kind").select_option("ct_dicom")
    click.choose_file(page.get_by_label("Dataset file"), str(archive))
    preview = page.get_by_role("region", name="Split preview")
    preview.wait_for(timeout=60_000)
    assert re.search(r"Train 3 · Validation 0 · Test 0\s+patients \(3 in all", preview.inner_text())
    warnings = page.get_by_role("alert", name="Split warnings").inner_text()
    assert "The validation split would get no patients (3 in all): raise val_fraction" in warnings
    assert "The test split would get no patients" in warnings and "Only 3 patients" in warnings
    page.screenshot(path=str(IMAGES / "dicom-split-warning.png"), full_page=True)

    # Nothing is ingested until asked: the user may change the fractions, or go on knowingly.
    assert page.get_by_role("list", name="Datasets").get_by_text(re.compile("^Ready")).count() == 0
    click(page.get_by_role("button", name="Start the ingest anyway"))
    page.get_by_role("list", name="Datasets").get_by_text(re.compile(r"^Ready")).wait_for(timeout=120_000)

    details = page.get_by_role("region", name="Dataset details")
    details.get_by_role("heading", name="Patient data").wait_for()
    text = details.inner_text()
    assert "deleted after the ingest" in text and "salted pseudonyms" in text
    series = details.get_by_role("table", name="Series")
    assert "3 warnings in 2 of 3 series" in details.get_by_role("heading", name=re.compile(r"^Series: 3")).inner_text()
    rows = series.inner_text()
    assert "single_slice" in rows and "replicated into 32 identical slices" in rows
    assert "irregular_spacing" in rows and "-99.5, 103, 104.3, 105.5" in rows
    assert "missing_slices" in rows and "-99.50 to 103.00 mm" in rows
    alert = details.get_by_role("alert", name="Split warnings").inner_text()
    assert "The validation split would get no patients" in alert
    page.screenshot(path=str(IMAGES / "dicom-dataset-report.png"), full_page=True)

    shown = page.inner_text("body")
    for person in people:
        for secret in (person.name, person.patient_id, person.birth_date, person.accession):
            assert secret not in shown
    assert console_errors == [], console_errors
