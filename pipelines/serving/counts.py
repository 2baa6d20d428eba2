"""Request counts of the serving app, passed to the domain through Redis.

A serving process counts its requests in memory and pushes them every ``FLUSH_EVERY_S`` (and when
it stops): per deployment, a hash of ``requests`` and ``errors`` and a list of recent latencies,
and the deployment's id in a set of pending ids, in one MULTI. The domain folds them into the
database (``domain.deploy.serving.fold_counts``): ``FOLD_SCRIPT`` reads and deletes one
deployment's counts atomically, so a push racing a fold is counted once, in this fold or the next.
Only the key layout and the script live here; each side brings its own Redis client.
"""
from __future__ import annotations

FLUSH_EVERY_S = 0.5
LATENCY_WINDOW = 1000  # as many as a deployment keeps (domain.deploy.services.LATENCY_WINDOW)


def pending_key(prefix: str) -> str:
    return f"{prefix}:serving:pending"


def counts_key(prefix: str, deployment_id: int | str) -> str:
    return f"{prefix}:serving:counts:{deployment_id}"


def latencies_key(prefix: str, deployment_id: int | str) -> str:
    return f"{prefix}:serving:latencies:{deployment_id}"


# KEYS: counts hash, latencies list, pending set; ARGV: the deployment id.
# Returns {requests, errors, {latency, ...}} and forgets them.
FOLD_SCRIPT = """
local counts = redis.call('HMGET', KEYS[1], 'requests', 'errors')
local latencies = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return {counts[1] or '0', counts[2] or '0', latencies}
"""
