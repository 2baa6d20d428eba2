"""A dataset upload from the browser: tus-js-client sends the file in 4 MiB chunks to the real
tus endpoint (CSRF token, the server's Location, PATCH offsets), then the worker ingests it."""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from .journey import Clicks, section, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _table(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        out.write("age,smoker,weight,label\n")
        for i in range(rows):
            out.write(f"{20 + i % 60},{'yes' if i % 3 else 'no'},{50 + i % 40}.5,{i % 2}\n")
    return path


def test_a_table_uploads_in_chunks_and_is_ingested(live_stack: Any, page: Any, tmp_path: Path) -> None:
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    click = Clicks()
    sign_up_and_open_project(page, live_stack.url, click, f"up_{uuid.uuid4().hex[:8]}", "Uploads")
    section(page, click, "Datasets")

    # More than two 4 MiB chunks, so the upload takes three PATCHes.
    csv = _table(tmp_path / "patients.csv", 700_000)
    size = csv.stat().st_size
    assert size > 8 * 1024**2, size
    page.get_by_label("Kind").select_option("table")
    page.get_by_label("Target column").fill("label")
    click.choose_file(page.get_by_label("Dataset file"), str(csv))

    page.get_by_role("status").filter(has_text="Ingesting “patients”").wait_for(timeout=60_000)
    page.get_by_role("list", name="Datasets").get_by_text("patients").first.wait_for()

    listing = page.request.get(live_stack.url + "/api/v1/uploads/").json()
    [upload] = listing["results"]
    assert (upload["filename"], upload["length"], upload["offset"], upload["status"]) == (
        "patients.csv", size, size, "complete")
    # A finished upload is not remembered for resuming (tus-js-client's store in localStorage).
    assert page.evaluate("Object.keys(localStorage).filter((key) => key.startsWith('tus::'))") == []
    # The worker ingests it to the end (the live stack's one worker then serves the next test).
    page.get_by_role("list", name="Datasets").get_by_text(re.compile(r"^Ready")).wait_for(timeout=240_000)
    assert console_errors == [], console_errors
