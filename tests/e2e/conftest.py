"""Chromium from Debian's packages, driven by Playwright. Never a downloaded browser."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    # Function scope: Playwright's sync API keeps an event loop running while it is open, and
    # Django refuses database calls from a thread with a running loop.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# The two window sizes issue 16 asks every screen to work at.
VIEWPORTS = [
    pytest.param({"width": 1440, "height": 900}, id="1440x900"),
    pytest.param({"width": 1280, "height": 720}, id="1280x720"),
]


@pytest.fixture(params=VIEWPORTS)
def sized_page(request: Any, browser: Any) -> Iterator[Any]:
    """A page at each of ``VIEWPORTS``; ``page.viewport_name`` says which ("1440x900")."""
    context = browser.new_context(viewport=request.param)
    page = context.new_page()
    page.set_default_timeout(20000)
    page.viewport_name = f"{request.param['width']}x{request.param['height']}"
    yield page
    context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """On a failed browser test, attach what the page showed, so the failure explains itself."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        try:
            report.sections.append(("page text", page.inner_text("body")[:3000]))
            report.sections.append(("page url", page.url))
            stack = item.funcargs.get("live_stack")
            if stack is not None:
                report.sections.append(("server logs", stack.log_tail()))
        except Exception as exc:  # the page may be gone; the original failure still stands
            report.sections.append(("page text", f"unavailable: {exc}"))
