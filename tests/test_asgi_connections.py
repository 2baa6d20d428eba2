"""The web process closes its database connection at the end of every request (config/asgi.py).

Under ASGI each request runs in its own context, so a "persistent" connection (CONN_MAX_AGE > 0)
is never reused: it is dropped with the context and its PostgreSQL backend stays until a garbage
collection frees the Python object. With the web process's raised collection threshold that was
hundreds of requests, enough to exhaust PostgreSQL's max_connections. This test serves the real
ASGI app with uvicorn, as `make run` does, makes 150 signed-in API requests (each reads the session
and the user's projects) and counts the server's backends for that process (tagged with libpq's
PGAPPNAME).
"""
from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from scripts.run import web_command
from tests.conftest import ROOT, _env_for_children, _free_port

pytestmark = pytest.mark.django_db(transaction=True)

TAG = "vmb-asgi-connection-probe"


def _backends(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [TAG])
    return int(cursor.fetchone()[0])


def _get(url: str, cookie: str = "") -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_web_process_holds_no_connection_after_its_requests(django_user_model: Any) -> None:
    from django.db import connection
    from django.test import Client

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL backends")
    browser = Client()
    browser.force_login(django_user_model.objects.create_user("probe", password="a long passphrase 1"))
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    env = {**_env_for_children(), "PGAPPNAME": TAG}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(web_command("127.0.0.1", str(port)), cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(url + "/api/v1/auth/me/")
                break
            except OSError:
                assert web.poll() is None and time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.3)
        statuses = {_get(url + "/api/v1/projects/", cookie) for _ in range(150)}
        assert statuses == {200}
        with connection.cursor() as cursor:
            # 150 requests read the database; a kept connection per request would show as up to 150.
            assert _backends(cursor) <= 1
    finally:
        web.terminate()
        web.wait(timeout=20)
