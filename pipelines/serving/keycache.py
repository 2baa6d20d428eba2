"""Verified API keys remembered per serving process for a few seconds.

A request under ``/v2/models/<name>`` carries an API key; checking it against the database on every
request costs a query on Django's single thread-sensitive executor, which dominated the endpoint's
latency. This cache remembers, per process, that the SHA-256 digest of a presented key was a live
key of the ready deployment ``name`` (and that deployment's row), for ``ttl_s`` seconds.

Exactness: an entry is found by the full digest of the presented key and the model name, and the
digest is compared again in constant time (``hmac.compare_digest``). Only successes are remembered;
a missing, wrong or revoked key always goes to the database.

Invalidation: revoking a key, undeploying, or saving/deleting a key or deployment row through the
ORM calls ``invalidate`` in that process, so the change applies to its very next request. Other
processes (another daphne worker, the separate serving service) see it within ``ttl_s``. A
generation counter keeps a lookup that raced with an invalidation from re-inserting a stale entry.
"""
from __future__ import annotations

import hmac
import threading
import time
from typing import Any

DEFAULT_TTL_S = 5.0


class KeyCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, int, str, Any]] = {}
        self._generation = 0

    def generation(self) -> int:
        """Read before a database lookup; pass to ``put`` so a concurrent invalidation wins."""
        return self._generation

    def get(self, name: str, digest: str) -> Any | None:
        entry = self._entries.get((name, digest))
        if entry is None:
            return None
        expires, _deployment_id, stored_digest, value = entry
        if time.monotonic() >= expires:
            with self._lock:
                if self._entries.get((name, digest)) is entry:
                    del self._entries[(name, digest)]
            return None
        # The dict matched on equal digests already; compare again in constant time regardless.
        if not hmac.compare_digest(stored_digest, digest):
            return None
        return value

    def put(self, name: str, digest: str, deployment_id: int, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) > 10_000:  # bounded: drop everything rather than grow without end
                self._entries.clear()
            self._entries[(name, digest)] = (time.monotonic() + self.ttl_s, deployment_id, digest, value)

    def invalidate(self, deployment_id: int | None = None) -> None:
        """Forget the keys of one deployment (all deployments when ``None``)."""
        with self._lock:
            self._generation += 1
            if deployment_id is None:
                self._entries.clear()
            else:
                for k in [k for k, entry in self._entries.items() if entry[1] == deployment_id]:
                    del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)


keys = KeyCache()
