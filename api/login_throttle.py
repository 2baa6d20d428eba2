"""Failed sign-ins, counted per account and per client address in Redis, with backoff and lockout.

Every password check goes through ``api.auth_backend.ThrottledModelBackend`` (the API's login and
token views, Django's admin login, ``Client.login`` in tests), so no sign-in path skips the count.
An attempt is *reserved* (counted as a failure) atomically before its password is checked, and
given back when the password was right: many parallel requests cannot all pass the check before
the first failure is written. Counters live in Redis so every web process and replica shares them.

For each counter (one per username, known or not, and one per client address):

- the first ``free`` failures cost nothing;
- each further failure makes the next try wait 1 s, then 2, 4, ... (at most ``lockout_s``);
- an account with ``account_lockout_failures`` failures is locked for ``lockout_s``: even the
  right password answers 429. Its owner gets a link that clears the lock (api.login_unlock), and
  an admin can clear it (``manage.py unlock_login`` or the users' admin action).

A client address is read by DRF's ``get_ident`` under ``NUM_PROXIES`` (``VMB_TRUSTED_PROXIES``).
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Literal

import redis
from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

KEY_PREFIX = "vmb:login"
Scope = Literal["account", "client"]

# KEYS: the counters this attempt is gated on. ARGV, three per key: free failures, failures that
# lock (0: never), lockout in ms. Returns {0, 0, failures of KEYS[1] after this attempt} when the
# attempt may go ahead (and has been counted), else {index of the blocking key, wait ms, its
# failures}. The clock is Redis' own, so web hosts with skewed clocks agree.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function delay(failures, free, lock_after, lock_ms)
  if lock_after > 0 and failures >= lock_after then return lock_ms end
  if failures < free then return 0 end
  return math.min(1000 * 2 ^ (failures - free), lock_ms)
end
local blocked, wait, blocked_failures = 0, 0, 0
for i, key in ipairs(KEYS) do
  local b = (i - 1) * 3
  local failures = tonumber(redis.call('HGET', key, 'failures') or 0)
  local last = tonumber(redis.call('HGET', key, 'last') or 0)
  local w = last + delay(failures, tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])) - now
  if w > wait then blocked, wait, blocked_failures = i, w, failures end
end
if blocked > 0 then return {blocked, math.ceil(wait), blocked_failures} end
local first = 0
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  if i == 1 then first = failures end
  redis.call('HSET', key, 'last', string.format('%.0f', now))
  -- Failures are remembered for twice the lockout, so one more after a lock ends locks again.
  redis.call('PEXPIRE', key, 2 * tonumber(ARGV[(i - 1) * 3 + 3]))
end
return {0, 0, first}
"""
# Gives back a reserved attempt whose password was right (the key may have expired meanwhile).
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'failures', -1) end
"""
# Clears an account's counter only if its lock is the one the unlock link was sent for.
_UNLOCK_IF_NONCE = """
if redis.call('HGET', KEYS[1], 'nonce') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Policy:
    free_failures: int
    lockout_failures: int  # 0: this counter only backs off, it never locks
    lockout_s: int

    def args(self) -> list[int]:
        return [self.free_failures, self.lockout_failures, self.lockout_s * 1000]


def policies() -> dict[Scope, Policy]:
    """The account and client policies from ``settings.LOGIN_THROTTLE`` (read on every call, so
    an override in a test or a reloaded setting applies at once)."""
    conf = settings.LOGIN_THROTTLE
    return {
        "account": Policy(conf["account_free_failures"], conf["account_lockout_failures"], conf["lockout_s"]),
        "client": Policy(conf["client_free_failures"], 0, conf["lockout_s"]),
    }


@dataclass(frozen=True)
class Attempt:
    """A sign-in the gate let through; it is already counted as a failure."""

    username: str
    client: str | None
    account_failures: int


@dataclass(frozen=True)
class Refusal:
    """A sign-in the gate turned away before its password was looked at."""

    scope: Scope
    wait_s: int
    locked: bool

    @property
    def message(self) -> str:
        wait = _duration(self.wait_s)
        if self.locked:
            # Said alike for every username, known or not, so it tells nothing about the account.
            return (f"This account is locked after too many failed sign-ins. Try again in {wait}, "
                    "or open the unlock link sent to the account's email address (if it has one).")
        if self.scope == "account":
            return f"Too many failed sign-ins for this account. Wait {wait} before trying again."
        return f"Too many failed sign-ins from your network address. Wait {wait} before trying again."


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _client() -> redis.Redis:
    return _redis(settings.REDIS_URL)


def _key(scope: Scope, value: str) -> str:
    # Hashed: usernames and addresses come from the request, of any length and content.
    return f"{KEY_PREFIX}:{scope}:{hashlib.sha256(value.encode()).hexdigest()}"


def account_key(username: str) -> str:
    return _key("account", username)


def client_key(address: str) -> str:
    return _key("client", address)


def client_address(request: HttpRequest) -> str:
    """The client's address as DRF's throttles see it: REMOTE_ADDR, or with ``NUM_PROXIES`` = N
    the N-th address from the right of X-Forwarded-For."""
    return str(BaseThrottle().get_ident(request) or "unknown")


def reserve(username: str, client: str | None) -> Attempt | Refusal:
    """Counts one sign-in try for ``username`` (and ``client`` when known) unless a counter makes
    it wait; the try is then refused without being counted."""
    rules = policies()
    scopes: list[Scope] = ["account"] + (["client"] if client is not None else [])
    keys = [account_key(username)] + ([client_key(client)] if client is not None else [])
    args = [arg for scope in scopes for arg in rules[scope].args()]
    blocked, wait_ms, failures = _client().eval(_RESERVE, len(keys), *keys, *args)
    if blocked:
        scope = scopes[int(blocked) - 1]
        policy = rules[scope]
        locked = policy.lockout_failures > 0 and int(failures) >= policy.lockout_failures
        return Refusal(scope, max(1, math.ceil(int(wait_ms) / 1000)), locked)
    return Attempt(username, client, int(failures))


def succeeded(attempt: Attempt) -> None:
    """The password was right: the account starts afresh, and the client gets its try back."""
    _client().delete(account_key(attempt.username))
    if attempt.client is not None:
        _client().eval(_GIVE_BACK, 1, client_key(attempt.client))


def failed(attempt: Attempt) -> str | None:
    """The password was wrong (it is counted already). When this failure locks the account,
    returns the lock's nonce, which an unlock link must carry; else None."""
    if attempt.account_failures < policies()["account"].lockout_failures:
        return None
    nonce = secrets.token_urlsafe(16)
    _client().hset(account_key(attempt.username), "nonce", nonce)
    return nonce


def unlock_if_nonce(username: str, nonce: str) -> bool:
    """Clears ``username``'s failures if its current lock is the one ``nonce`` was made for."""
    return bool(_client().eval(_UNLOCK_IF_NONCE, 1, account_key(username), nonce))


def clear(username: str | None = None, client: str | None = None) -> int:
    """Forgets the failures of an account and/or a client address; returns how many counters
    were cleared."""
    keys = ([account_key(username)] if username is not None else []) + (
        [client_key(client)] if client is not None else [])
    return int(_client().delete(*keys)) if keys else 0


def clear_all() -> int:
    """Forgets every counter (every account and client); returns how many were cleared."""
    keys = list(_client().scan_iter(f"{KEY_PREFIX}:*", count=1000))
    return int(_client().delete(*keys)) if keys else 0
