"""A first visit, as a person makes it: load /, sign up, see the project list, create a project."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

# The mark makes pytest-django create the test database that the live stack serves from.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_and_see_projects(live_stack: Any, page: Any) -> None:
    username = f"new_{uuid.uuid4().hex[:8]}"
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(live_stack.url + "/")
    # An unknown visitor is sent to sign in; the page offers sign-up.
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_role("link", name="Create an account").click()
    page.get_by_role("heading", name="Create your account").wait_for()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.org")
    page.get_by_label("Password").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Sign up", exact=True).click()

    page.get_by_role("heading", name="Projects").wait_for()
    assert page.get_by_text(username).first.is_visible()
    page.get_by_text("You have no projects yet").wait_for()

    page.get_by_label("Name").fill("Chest CT")
    page.get_by_label("Description").fill("nodules")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("list", name="Projects").get_by_role("link", name="Chest CT").wait_for()

    # It is really stored: a reload (new page load, same session) still lists it.
    page.reload()
    page.get_by_role("list", name="Projects").get_by_role("link", name="Chest CT").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert console_errors == [], console_errors


def test_sign_up_errors_are_shown_on_the_field(live_stack: Any, page: Any) -> None:
    page.goto(live_stack.url + "/sign-up")
    page.get_by_role("heading", name="Create your account").wait_for()
    page.get_by_label("Username").fill(f"weak_{uuid.uuid4().hex[:6]}")
    page.get_by_label("Password").fill("123")
    page.get_by_role("button", name="Sign up", exact=True).click()
    password = page.get_by_label("Password")
    page.get_by_text(re.compile("too short|too common|entirely numeric", re.I)).first.wait_for()
    assert password.get_attribute("aria-invalid") == "true"
    assert page.get_by_role("heading", name="Projects").count() == 0
