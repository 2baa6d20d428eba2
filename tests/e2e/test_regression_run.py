"""A regression run's page: after a price table (target mean 2e5) is trained by the real worker, the
run page shows R², MAE and RMSE as numbers in dollars, a predicted-vs-actual scatter with its
y = x line and a residual histogram, all on the test split. Screenshot: run-regression.png under
var/screenshots/ (or $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.integration.test_regression_roundtrip import train_price_run

from .journey import IMAGES, Clicks, as_user, number_in, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_run_page_shows_regression_results_in_the_targets_units(live_stack: Any, page: Any) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    username = f"reg_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, Clicks(), username, "Prices")
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    # The table goes through the API as the Datasets page sends it; the worker ingests and trains.
    run = as_user(username, lambda client: train_price_run(client, project_id, live_stack)[4])
    test = run["test_metrics"]

    page.goto(f"{live_stack.url}/projects/{project_id}/runs/{run['id']}")
    results = page.get_by_role("region", name="Test results (best checkpoint)")
    results.wait_for()
    assert results.get_by_test_id("metric-r2").inner_text() == f"{test['r2']:.3f}"
    rmse = number_in(results.get_by_test_id("metric-rmse"))
    assert rmse == pytest.approx(test["rmse"], rel=1e-3) and rmse > 1000  # dollars, not z-scores
    assert number_in(results.get_by_test_id("metric-mae")) == pytest.approx(test["mae"], rel=1e-3)
    results.get_by_text(re.compile(r"trained on the standardised target \(mean 2\d\d,\d{3}")).wait_for()

    scatter = results.get_by_role("img", name=re.compile(r"^Predicted vs actual \(test split"))
    points = len(test["predicted_vs_actual"]["actual"])
    assert scatter.get_attribute("data-points") == str(points) and scatter.locator("circle").count() == points
    residuals = results.get_by_role("img", name=re.compile(r"^Residuals"))
    bars = residuals.locator("rect")
    assert bars.count() == len(test["residual_histogram"]["counts"])
    assert sum(int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())) == points
    results.scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / "run-regression.png"), full_page=True)
    assert console_errors == [], console_errors
