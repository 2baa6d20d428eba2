"""What the browser journeys share: counted clicks, polling, sign-up and a new project."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import poll  # noqa: F401  (the journeys import it from here)

# Screenshots go to var/screenshots/ so a test run leaves the tree clean; refresh the ones in the
# docs with VMB_SCREENSHOTS_DIR=docs/images.
IMAGES = Path(os.environ.get("VMB_SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
IMAGES.mkdir(parents=True, exist_ok=True)


class Clicks:
    """Clicks made the way a person makes them, counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator: Any) -> None:
        self.count += 1
        locator.click()

    def back(self, page: Any) -> None:
        """The browser's Back button."""
        self.count += 1
        page.go_back()

    def press(self, locator: Any, key: str) -> None:
        """A key on a focused control (a slider's step), counted like the click that focuses it."""
        self.count += 1
        locator.press(key)

    def choose_file(self, locator: Any, path: Any) -> None:
        """A file input: one click on it, then the file dialog."""
        self.count += 1
        locator.set_input_files(path)


def sign_up_and_open_project(page: Any, url: str, click: Clicks, username: str, project: str) -> None:
    """Sign up as ``username``, create ``project`` and open it."""
    page.goto(url + "/sign-up")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("a-long-passphrase-9")
    click(page.get_by_role("button", name="Sign up", exact=True))
    page.get_by_role("heading", name="Projects").wait_for()
    page.get_by_label("Name").fill(project)
    click(page.get_by_role("button", name="Create project"))
    click(page.get_by_role("list", name="Projects").get_by_role("link", name=project))


def section(page: Any, click: Clicks, name: str) -> None:
    """Open a section of the project (Datasets, Train, Models...) from its navigation."""
    click(page.get_by_role("navigation", name="Project sections").get_by_role("link", name=name))


def lenet_and_digits_at_train(page: Any, url: str, click: Clicks, username: str) -> None:
    """Sign up, a "Digits" project with the LeNet-5 template and the digits sample ingested, and
    its Train page open with the dataset offered."""
    sign_up_and_open_project(page, url, click, username, "Digits")
    project_url = page.url
    click(page.get_by_role("button", name="Use template LeNet-5"))
    page.wait_for_url(re.compile(r"/graphs/\d+$"))
    page.goto(project_url)
    section(page, click, "Datasets")
    click(page.get_by_role("button", name="Add sample digits"))
    page.get_by_text(re.compile(r"^Ready$")).first.wait_for(timeout=120_000)
    section(page, click, "Train")
    page.get_by_role("option", name=re.compile(r"digits")).wait_for(state="attached")


def fill_field(locator: Any, value: str) -> None:
    """A field of a form generated from a schema (the Train form, the canvas's parameters) takes
    what was typed when it is committed: Enter, as a person ends typing."""
    locator.fill(value)
    locator.press("Enter")


def open_advanced_settings(page: Any, click: Clicks) -> None:
    """The Train form's collapsed group of settings beyond epochs, batch, optimizer and precision."""
    click(page.locator("summary", has_text="Advanced settings"))


def number_in(cell: Any) -> float:
    """A number shown in a table cell ("61,706", "12.3 KiB")."""
    return float(re.sub(r"[^\d.]", "", cell.inner_text().split()[0]))


R = TypeVar("R")


def as_user(username: str, action: Callable[[Any], R]) -> R:
    """``action(client)`` with an API client signed in as ``username``, in a thread of its own:
    Playwright keeps an event loop running in the test's thread, where Django refuses database calls."""

    def run() -> R:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from rest_framework.test import APIClient

        try:
            client = APIClient()
            client.force_authenticate(get_user_model().objects.get(username=username))
            return action(client)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def train_digits_lenet(client: Any, project_id: int, stack: Any, epochs: int = 2) -> dict[str, Any]:
    """Through the API: the digits sample (8x8 PNGs) ingested and LeNet-5 (32x32) trained on it for
    ``epochs`` by the live worker; the succeeded run's body."""
    version = client.post("/api/v1/datasets/from-sample/", {"project": project_id, "sample": "digits",
                                                             "name": "digits"}, format="json")
    assert version.status_code == 202, version.content
    version_id = version.json()["id"]
    poll(lambda: client.get(f"/api/v1/dataset-versions/{version_id}/").json()["status"] == "succeeded", 120,
         "the digits ingest")
    graph = client.post("/api/v1/graphs/from-template/", {"project": project_id, "template": "lenet5"}, format="json")
    assert graph.status_code == 201, graph.content
    graph_version = client.get(f"/api/v1/graphs/{graph.json()['id']}/versions/").json()["results"][0]["id"]
    run = client.post("/api/v1/runs/", {"graph_version": graph_version, "dataset_version": version_id,
                                        "config": {"epochs": epochs, "device": {"kind": "cpu"}}}, format="json")
    assert run.status_code == 202, run.content
    run_id = run.json()["id"]
    poll(lambda: client.get(f"/api/v1/runs/{run_id}/").json()["status"] in ("succeeded", "failed", "cancelled"),
         300, f"run {run_id}")
    body = dict(client.get(f"/api/v1/runs/{run_id}/").json())
    assert body["status"] == "succeeded", (body, stack.log_tail())
    return body


def ingested_version(client: Any, project: int, name: str, kind: str, data: bytes, filename: str,
                     options: dict[str, Any]) -> dict[str, Any]:
    """Through the API: a dataset ``name`` of ``kind`` in ``project``, ``data`` uploaded as
    ``filename`` and ingested with ``options`` by the live worker; the succeeded version's JSON."""
    from tests.api.test_datasets import upload

    dataset = client.post("/api/v1/datasets/", {"project": project, "name": name, "kind": kind},
                          format="json").json()["id"]
    upload_id = upload(client, data, filename, chunk=1 << 20).rstrip("/").rsplit("/", 1)[-1]
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {"upload": upload_id, "options": options},
                          format="json")
    assert version.status_code == 202, version.content
    url = f"/api/v1/dataset-versions/{version.json()['id']}/"
    poll(lambda: client.get(url).json()["status"] in ("succeeded", "failed"), 120, f"the {name} ingest")
    body: dict[str, Any] = client.get(url).json()
    assert body["status"] == "succeeded", body
    return body
