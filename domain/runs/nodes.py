"""How the N tasks of one multi-node run find each other: a gang in Redis.

``services.enqueue`` sends a run asking for ``device.nodes = N`` as N ``runs.train_run`` messages
that share one gang id. Each task that picks one up leases its devices as a single-node run does,
then ``join``s the gang, which gives it a slot (0 to N-1) in arrival order:

- slot 0 waits until all N slots are taken (``wait_full``), claims the run (the attempt), serves
  the c10d store on a free port of this host and publishes ``host:port`` (``publish``);
- slots 1..N-1 wait for that endpoint (``wait_endpoint``);
- then every node starts torch's elastic agent against that endpoint, and the c10d rendezvous
  assigns the global ranks.

A gang that does not fill within the run's ``distributed.timeout_s`` is ``close``d (its late
members find it closed and leave) and the run is queued again as a new gang: a run waits for N free
workers as a single-node run waits for a free device. A message for a gang that is full or closed
(a redelivery after its worker died, the gang already moved on) is dropped, and so is one sent
before the run's latest attempt (the gang id starts with the attempts made when it was sent). Keys
expire ``ttl_s`` after the last heartbeat of a node.

Redis holds this because it is short-lived and shared by every worker already (the broker).
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

POLL_S = 0.2
_JOIN = """
if redis.call('HGET', KEYS[1], 'closed') then return -1 end
local slot = redis.call('HINCRBY', KEYS[1], 'joined', 1) - 1
redis.call('EXPIRE', KEYS[1], ARGV[2])
if slot >= tonumber(ARGV[1]) then return -1 end
return slot
"""
_CLOSE = """
if redis.call('HGET', KEYS[1], 'endpoint') then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'joined') or '0') >= tonumber(ARGV[1]) and ARGV[2] == '0' then return 0 end
redis.call('HSET', KEYS[1], 'closed', '1')
return 1
"""


def for_attempts(gang_id: str, attempts: int) -> bool:
    """Whether a gang id (``<attempts>-<uuid>``, ``services.enqueue``) was sent for a run that has
    made ``attempts`` attempts: a message from before a later claim is stale, whatever Redis holds."""
    sent, _, _rest = gang_id.partition("-")
    return sent.isdigit() and int(sent) == attempts


def node_address() -> str:
    """The address other nodes reach this worker at (``VMB_NODE_ADDRESS``; default: its FQDN,
    as torch's launcher assumes)."""
    return os.environ.get("VMB_NODE_ADDRESS") or socket.getfqdn()


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=10,
                                decode_responses=True)


@dataclass
class Gang:
    """The ``nodes`` tasks of one attempt of a run (``gang_id``: sent with each message)."""

    gang_id: str
    nodes: int
    ttl_s: int

    @property
    def key(self) -> str:
        return f"vmb:gang:{self.gang_id}"

    def join(self) -> int | None:
        """This task's slot, or None when the gang is full or closed (a stale message)."""
        slot = int(_client().eval(_JOIN, 1, self.key, self.nodes, self.ttl_s))  # type: ignore[arg-type]
        return None if slot < 0 else slot

    def close(self, *, force: bool = False) -> bool:
        """Close a gang that has not started (no endpoint yet): unless ``force``, only when it is
        not full. Returns whether it closed (then the closer queues the run again)."""
        return bool(_client().eval(_CLOSE, 1, self.key, self.nodes, "1" if force else "0"))  # type: ignore[arg-type]

    def wait_full(self, timeout_s: float) -> bool:
        """Whether all ``nodes`` slots were taken within ``timeout_s``."""
        return bool(_poll(lambda: int(_client().hget(self.key, "joined") or 0) >= self.nodes, timeout_s))

    def keep(self) -> None:
        """Keep the gang's record while its nodes train (each heartbeat), ``ttl_s`` after the last."""
        _client().expire(self.key, self.ttl_s)

    def publish(self, endpoint: str, attempt: int) -> None:
        _client().hset(self.key, mapping={"endpoint": endpoint, "attempt": attempt})

    def wait_endpoint(self, timeout_s: float) -> tuple[str, int] | None:
        """The endpoint and attempt slot 0 published, or None: the gang closed or the wait timed out."""
        def look() -> tuple[str, int] | None | bool:
            found: dict[str, str] = _client().hgetall(self.key)  # type: ignore[assignment]
            if "endpoint" in found:
                return found["endpoint"], int(found["attempt"])
            return False if "closed" in found else None
        got = _poll(look, timeout_s, stop_on_false=True)
        return got if isinstance(got, tuple) else None

    def add_member(self, slot: int, member: dict[str, Any]) -> None:
        """Record where slot ``slot`` runs (read back by ``members``)."""
        _client().hset(self.key, f"node{slot}", json.dumps(member))

    def members(self) -> list[dict[str, Any]]:
        """The nodes recorded so far, in slot order."""
        found: dict[str, str] = _client().hgetall(self.key)  # type: ignore[assignment]
        return [json.loads(found[f"node{slot}"]) for slot in range(self.nodes) if f"node{slot}" in found]


def serve_store() -> tuple[Any, str]:
    """A c10d TCP store served by this process on a free port (the rendezvous of one gang; it lives
    as long as the returned object). Returns it and the ``host:port`` the other nodes dial."""
    from torch.distributed import TCPStore

    store = TCPStore("0.0.0.0", 0, is_master=True, wait_for_workers=False, multi_tenant=False)
    return store, f"{node_address()}:{store.port}"


def _poll(predicate: Any, timeout_s: float, *, stop_on_false: bool = False) -> Any:
    """``predicate()``'s first truthy value within ``timeout_s``, else None; with ``stop_on_false``
    an exact ``False`` ends the wait at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or (stop_on_false and value is False):
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)
