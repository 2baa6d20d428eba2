"""The run page of a dynamic-precision run: after the overflow scenario (a table of raw values
around 1e5) is trained by the real worker in dynamic fp16, the page shows the share of FLOPs kept in
fp16, each layer's relative and signal error at every probe as charts, and every decision with its
reason (the first layer moved to fp32 for overflow). Screenshot: run-precision.png under
var/screenshots/ (or $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_dynamic_precision import clean_up, overflow_runs

from .journey import IMAGES, Clicks, as_user, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _clean_up(project_id: int) -> None:
    from django.db import connection

    try:
        clean_up(project_id)
    finally:
        connection.close()


def test_the_run_page_shows_each_layers_error_and_every_decision(live_stack: Any, page: Any) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    username = f"dyn_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, Clicks(), username, "Overflow")
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    try:
        # In a thread of its own: Playwright keeps an event loop running in this one, where Django
        # refuses database calls.
        with tempfile.TemporaryDirectory() as folder:
            run = as_user(username, lambda client: overflow_runs(client, project_id, live_stack, Path(folder),
                                                                modes=("dynamic",))["dynamic"])
        assert run["status"] == "succeeded", run["error"]
        report = run["precision"]

        page.goto(f"{live_stack.url}/projects/{project_id}/runs/{run['id']}")
        panel = page.get_by_role("region", name="Dynamic precision")
        try:
            panel.wait_for()
        except Exception as exc:
            raise AssertionError(f"no precision panel; console errors: {console_errors}") from exc
        share = round(report["low_precision_flops_share"] * 100)
        assert panel.get_by_test_id("low-flops-share").inner_text() == f"{share}%" and share >= 50
        assert "fc1" in panel.get_by_test_id("fp32-layers").inner_text()
        probes = len(report["error_history"])
        for title in ("Relative error per probe (log₁₀)", "Signal error per probe (log₁₀)"):
            chart = panel.get_by_role("img", name=title)
            assert int(chart.get_attribute("data-points")) >= 2 * probes  # layers x probes, plus the bar
        rows = panel.get_by_role("table", name="Precision decisions").locator("tbody tr")
        assert rows.count() == len(report["decisions"])
        first = rows.filter(has_text="fc1").first
        assert first.get_attribute("data-reason") == "overflow"
        assert "Inf/NaN in fp16" in first.inner_text()
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(IMAGES / "run-precision.png"), full_page=True)
        assert console_errors == [], console_errors
    finally:
        with ThreadPoolExecutor(1) as pool:  # Django refuses database calls in Playwright's loop
            pool.submit(_clean_up, project_id).result()
