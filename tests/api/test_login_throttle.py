"""Sign-in throttling (issue 15, finding 3): failed sign-ins are counted per account and per client
address, atomically in the real Redis; X-Forwarded-For is trusted only from VMB_TRUSTED_PROXIES
proxies; a locked account answers 429 even to the right password until the lock ends, its owner
opens the mailed link, or an admin clears it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/api/v1/auth/login/"
PASSWORD = "correct-horse-battery"
WRONG = "not-the-password"

pytestmark = pytest.mark.django_db


def _policy(settings: Any, **overrides: int) -> None:
    settings.LOGIN_THROTTLE = {**settings.LOGIN_THROTTLE, **overrides}


def _trust_proxies(settings: Any, count: int) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}


def _login(client: APIClient, username: str, password: str, forwarded_for: str | None = None) -> Any:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return client.post(LOGIN, {"username": username, "password": password}, format="json", **extra)


def _user(username: str, email: str = "") -> Any:
    return get_user_model().objects.create_user(username=username, email=email, password=PASSWORD)


def _post_live(url: str, body: dict[str, str], forwarded_for: str | None = None) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_with_new_forwarded_for_each_lock_the_account(live_server: Any, settings: Any) -> None:
    # Backoff off (free == lockout), so the count of passwords actually checked is exact: with a
    # read-then-write counter, concurrent requests would all pass the check before any failure.
    _policy(settings, account_free_failures=5, account_lockout_failures=5, client_free_failures=10_000)
    _user("alice")
    url = live_server.url + LOGIN

    def wrong(i: int) -> int:
        return _post_live(url, {"username": "alice", "password": WRONG}, f"198.51.{i // 250}.{i % 250}")[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(wrong, range(200)))

    assert statuses.count(400) == 5, statuses
    assert statuses.count(429) == 195, statuses
    status, headers, body = _post_live(url, {"username": "alice", "password": PASSWORD}, "192.0.2.1")
    assert status == 429, body
    assert 3500 <= int(headers["Retry-After"]) <= 3600
    assert "locked after too many failed sign-ins" in body["detail"]


def test_backoff_doubles_after_the_free_failures(settings: Any) -> None:
    _policy(settings, account_free_failures=2, account_lockout_failures=10, client_free_failures=10_000)
    _user("alice")
    client = APIClient()
    assert [_login(client, "alice", WRONG).status_code for _ in range(2)] == [400, 400]
    waits = []
    for _ in range(3):
        refused = _login(client, "alice", PASSWORD)
        assert refused.status_code == 429, refused.content
        assert "Too many failed sign-ins for this account" in refused.json()["detail"]
        waits.append(int(refused["Retry-After"]))
        if len(waits) < 3:
            time.sleep(waits[-1] + 0.1)
            assert _login(client, "alice", WRONG).status_code == 400
    assert waits == [1, 2, 4]


def test_locked_account_refuses_the_right_password_everywhere(settings: Any) -> None:
    _policy(settings, account_free_failures=3, account_lockout_failures=3, client_free_failures=10_000)
    _user("alice")
    client = APIClient()
    assert [_login(client, "alice", WRONG).status_code for _ in range(3)] == [400] * 3

    refused = _login(client, "alice", PASSWORD)
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    assert "locked after too many failed sign-ins" in refused.json()["detail"]
    token = client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert token.status_code == 429
    admin_form = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert admin_form.status_code == 200 and "_auth_user_id" not in client.session


def test_unknown_usernames_are_throttled_alike(settings: Any) -> None:
    _policy(settings, account_free_failures=3, account_lockout_failures=3, client_free_failures=10_000)
    _user("alice", "alice@example.org")
    answers = {}
    for username in ("alice", "ghost"):
        client = APIClient()
        answers[username] = [_login(client, username, WRONG) for _ in range(5)]
    for known, unknown in zip(answers["alice"], answers["ghost"], strict=True):
        assert known.status_code == unknown.status_code
        assert known.json() == unknown.json()
        assert known.get("Retry-After") == unknown.get("Retry-After")
    assert [r.status_code for r in answers["ghost"]] == [400, 400, 400, 429, 429]


def test_a_right_password_starts_the_account_afresh(settings: Any) -> None:
    _policy(settings, account_free_failures=3, account_lockout_failures=3, client_free_failures=10_000)
    _user("alice")
    client = APIClient()
    assert [_login(client, "alice", WRONG).status_code for _ in range(2)] == [400, 400]
    assert _login(client, "alice", PASSWORD).status_code == 200
    assert [_login(APIClient(), "alice", WRONG).status_code for _ in range(2)] == [400, 400]


def test_forwarded_for_is_ignored_without_trusted_proxies(settings: Any) -> None:
    _trust_proxies(settings, 0)
    _policy(settings, client_free_failures=3)
    client = APIClient()
    statuses = [_login(client, f"user{i}", WRONG, f"203.0.113.{i}").status_code for i in range(4)]
    assert statuses[:3] == [400] * 3
    last = _login(client, "user9", WRONG, "203.0.113.99")
    assert last.status_code == 429 and "from your network address" in last.json()["detail"]


def test_forwarded_for_is_honoured_from_one_trusted_proxy(settings: Any) -> None:
    _trust_proxies(settings, 1)
    _policy(settings, client_free_failures=3)
    client = APIClient()
    # A new address at the right, where the proxy writes the client's, is a new client.
    assert {_login(client, f"user{i}", WRONG, f"10.0.0.{i}").status_code for i in range(6)} == {400}
    # Addresses the client wrote itself, to the left, are not: these all come from 203.0.113.9.
    spoofed = [_login(client, f"other{i}", WRONG, f"198.51.100.{i}, 203.0.113.9").status_code for i in range(4)]
    assert spoofed == [400, 400, 400, 429]
    assert _login(client, "other9", WRONG, "203.0.113.10").status_code == 400


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_trusted_proxies_setting_drives_drf_num_proxies() -> None:
    result = _manage("shell", "-c", "from django.conf import settings; print(settings.REST_FRAMEWORK['NUM_PROXIES'])",
                     VMB_TRUSTED_PROXIES="2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "2"


def _lock(settings: Any, username: str) -> APIClient:
    _policy(settings, account_free_failures=3, account_lockout_failures=3, client_free_failures=10_000)
    client = APIClient()
    assert [_login(client, username, WRONG).status_code for _ in range(3)] == [400] * 3
    assert _login(client, username, PASSWORD).status_code == 429
    return client


def test_the_mailed_link_clears_the_lock_once(settings: Any) -> None:
    _user("alice", "alice@example.org")
    client = _lock(settings, "alice")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.org"]
    link = re.search(r"http://testserver(/api/v1/auth/unlock/\?token=\S+)", mail.outbox[0].body)
    assert link is not None, mail.outbox[0].body

    opened = client.get(link.group(1))
    assert opened.status_code == 200 and "unlocked" in opened.json()["detail"]
    assert _login(client, "alice", PASSWORD).status_code == 200
    again = client.get(link.group(1))
    assert again.status_code == 400 and "used already" in again.json()["token"][0]


def test_an_unlock_token_works_by_post_and_forgeries_are_refused(settings: Any) -> None:
    _user("alice", "alice@example.org")
    client = _lock(settings, "alice")
    token = re.search(r"token=(\S+)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    from urllib.parse import unquote

    forged = client.post("/api/v1/auth/unlock/", {"token": unquote(token)[:-2] + "xx"}, format="json")
    assert forged.status_code == 400 and forged.json()["token"] == ["This unlock link is not valid."]
    assert client.post("/api/v1/auth/unlock/", {}, format="json").json()["token"]
    assert client.post("/api/v1/auth/unlock/", {"token": unquote(token)}, format="json").status_code == 200
    assert _login(client, "alice", PASSWORD).status_code == 200


def test_no_mail_for_unknown_usernames_or_accounts_without_an_address(settings: Any) -> None:
    _user("bob")
    _lock(settings, "ghost")
    _lock(settings, "bob")
    assert mail.outbox == []


def test_admin_command_clears_the_lock(settings: Any) -> None:
    _user("alice")
    client = _lock(settings, "alice")
    out = StringIO()
    call_command("unlock_login", "alice", stdout=out)
    assert "Cleared the failed sign-ins of alice" in out.getvalue()
    assert _login(client, "alice", PASSWORD).status_code == 200


def test_admin_command_clears_a_client_address(settings: Any) -> None:
    _policy(settings, client_free_failures=2)
    client = APIClient()
    assert [_login(client, f"user{i}", WRONG).status_code for i in range(3)] == [400, 400, 429]
    call_command("unlock_login", "--client", "127.0.0.1", stdout=StringIO())
    assert _login(client, "user9", WRONG).status_code == 400


def test_admin_action_clears_the_lock(settings: Any) -> None:
    alice = _user("alice")
    client = _lock(settings, "alice")
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    staff = APIClient()
    staff.force_login(admin)
    done = staff.post("/admin/auth/user/", {"action": "clear_sign_in_lock", "_selected_action": [alice.pk]})
    assert done.status_code == 302, done.content[:500]
    assert _login(client, "alice", PASSWORD).status_code == 200
