"""Request counts and latencies of the inference endpoints, gathered per process and written to
the deployment in batches, so that serving a request costs no database write of its own.

A batch is written when a request comes at least ``FLUSH_EVERY_S`` after the last write; the
requests of a burst that ends sooner are written by a timer that many seconds later (one per
process at a time), so the count never waits for a next request that may not come. Reading a
deployment through the API writes this process's pending batch first (``flush_metrics``): in a
single web process, what a user sees right after their requests counts every one of them.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from builder import deploy_services

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 1.0

# deployment id -> [requests, errors, latencies in ms]
Batch = dict[int, list[Any]]


class RequestMetrics:
    """The pending counts of one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: Batch = {}
        self.flushed_at = time.monotonic()
        self.timer_armed = False

    def add(self, deployment_id: int, ok: bool, latency_ms: float) -> Batch | None:
        """Count one request; returns the batch to write now when the last write is old enough."""
        with self.lock:
            entry = self.pending.setdefault(deployment_id, [0, 0, []])
            entry[0] += 1
            entry[1] += 0 if ok else 1
            entry[2].append(latency_ms)
            if time.monotonic() - self.flushed_at < FLUSH_EVERY_S:
                return None
            return self._take()

    def arm_timer(self) -> bool:
        """True for the one caller that should schedule a deferred write of what is pending."""
        with self.lock:
            if self.timer_armed or not self.pending:
                return False
            self.timer_armed = True
            return True

    def drain(self) -> Batch:
        """Everything pending, now."""
        with self.lock:
            return self._take()

    def _take(self) -> Batch:
        batch, self.pending = self.pending, {}
        self.flushed_at = time.monotonic()
        self.timer_armed = False
        return batch


metrics = RequestMetrics()


def flush_metrics(batch: Batch | None = None) -> None:
    """Write ``batch`` (default: everything pending in this process) to the deployments' counters."""
    for deployment_id, (count, errors, latencies) in (batch if batch is not None else metrics.drain()).items():
        try:
            deploy_services.record_requests(deployment_id, count, errors, latencies)
        except Exception:  # noqa: BLE001  (lost counts must never fail a prediction)
            log.exception("could not record requests of deployment %s", deployment_id)


# Deferred writes in flight: the event loop keeps only weak references to its tasks.
_flushing: set[asyncio.Task[None]] = set()


async def count_request(deployment_id: int, ok: bool, latency_ms: float,
                        write: Callable[[Batch | None], Coroutine[Any, Any, None]]) -> None:
    """Count a served request from the event loop. ``write(batch)`` writes a batch off the loop
    (``None``: whatever is pending then); it runs now when a write is due, else on a timer."""
    batch = metrics.add(deployment_id, ok, latency_ms)
    if batch is not None:
        await write(batch)
    elif metrics.arm_timer():
        loop = asyncio.get_running_loop()

        def deferred() -> None:
            task = loop.create_task(write(None))
            _flushing.add(task)
            task.add_done_callback(_flushing.discard)

        loop.call_later(FLUSH_EVERY_S, deferred)
