"""What serving processes share through Redis: rate-limit windows (``RateLimiter``) and request
counts (``RequestCounts``). One asyncio Redis client per event loop (a client's connections belong
to the loop that opened them)."""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

import redis.asyncio as aioredis

from pipelines.serving import counts

log = logging.getLogger(__name__)


class RedisConnections:
    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary())

    def client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            self._clients[loop] = client
        return client

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


# A fixed one-minute window per deployment, shared by every process through one counter in Redis.
# A process takes a lease of tokens at a time: 1/SHARE of what is left in the window (at least 1,
# at most MAX_LEASE), so a busy endpoint far from its limit costs one Redis call per many requests,
# while near the limit leases shrink to one token and the count is exact. Leased tokens a process
# has not used when the window ends are lost, so a window may admit a little less than the limit,
# never more.
SHARE = 16
MAX_LEASE = 256
LEASE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = tonumber(ARGV[1]) - used
if left <= 0 then return 0 end
local grant = math.min(math.max(math.floor(left / tonumber(ARGV[2])), 1), tonumber(ARGV[3]))
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], 120)
return grant
"""


class RateLimiter:
    def __init__(self, connections: RedisConnections, prefix: str) -> None:
        self.connections = connections
        self.prefix = prefix
        self._leases: dict[int, list[int]] = {}  # deployment id -> [window, tokens left, exhausted, limit]
        self._script_source = LEASE_SCRIPT
        self._warned_at = 0.0

    async def allow(self, deployment_id: int, per_minute: int) -> bool:
        """Whether one more request of the deployment fits this minute's window. When Redis cannot
        be reached the request is let through (logged): serving stays up without its limiter."""
        window = int(time.time() // 60)
        lease = self._leases.get(deployment_id)
        # A new window, or a limit changed in the index: tokens leased under the old one are dropped.
        if lease is None or lease[0] != window or lease[3] != per_minute:
            lease = self._leases[deployment_id] = [window, 0, 0, per_minute]
        if lease[1] > 0:
            lease[1] -= 1
            return True
        if lease[2]:
            return False
        key = f"{self.prefix}:serving:rate:{deployment_id}:{window}"
        try:
            client = self.connections.client()
            granted = int(await client.eval(self._script_source, 1, key, per_minute, SHARE, MAX_LEASE))  # type: ignore[misc]
        except aioredis.RedisError:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.exception("rate limit not applied: Redis is unreachable")
            return True
        if granted <= 0:
            lease[2] = 1
            return False
        lease[1] += granted - 1
        return True


class RequestCounts:
    """Requests, errors and latencies of this process, pushed to Redis every
    ``counts.FLUSH_EVERY_S`` (a timer armed by the first request after a push) and by ``flush``
    (at shutdown). A push that fails keeps its counts for the next one."""

    def __init__(self, connections: RedisConnections, prefix: str) -> None:
        self.connections = connections
        self.prefix = prefix
        self.pending: dict[int, list[Any]] = {}  # deployment id -> [requests, errors, [latency ms]]
        self._armed = False
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def add(self, deployment_id: int, ok: bool, latency_ms: float) -> None:
        entry = self.pending.get(deployment_id)
        if entry is None:
            entry = self.pending[deployment_id] = [0, 0, []]
        entry[0] += 1
        entry[1] += 0 if ok else 1
        entry[2].append(round(latency_ms, 3))
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_later(counts.FLUSH_EVERY_S, self._spawn_flush)

    def _spawn_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        batch, self.pending, self._armed = self.pending, {}, False
        if not batch:
            return
        try:
            async with self.connections.client().pipeline(transaction=True) as pipe:
                for deployment_id, (requests, errors, latencies) in batch.items():
                    pipe.hincrby(counts.counts_key(self.prefix, deployment_id), "requests", requests)
                    pipe.hincrby(counts.counts_key(self.prefix, deployment_id), "errors", errors)
                    latency_key = counts.latencies_key(self.prefix, deployment_id)
                    pipe.rpush(latency_key, *latencies[-counts.LATENCY_WINDOW:])
                    pipe.ltrim(latency_key, -counts.LATENCY_WINDOW, -1)
                    pipe.sadd(counts.pending_key(self.prefix), deployment_id)
                await pipe.execute()
        except aioredis.RedisError:
            log.exception("request counts not pushed yet: Redis is unreachable")
            for deployment_id, (requests, errors, latencies) in batch.items():
                entry = self.pending.setdefault(deployment_id, [0, 0, []])
                entry[0] += requests
                entry[1] += errors
                entry[2][:0] = latencies[-counts.LATENCY_WINDOW:]
            if not self._armed:
                self._armed = True
                asyncio.get_running_loop().call_later(counts.FLUSH_EVERY_S * 4, self._spawn_flush)
