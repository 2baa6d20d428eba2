"""A cap on the WebSockets one user holds open, shared by every web process through Redis.

Each open socket is a member of a sorted set per user, scored by when its claim lapses. A socket
whose process died without a disconnect lapses after ``WS_CLAIM_TTL_S`` (a ping renews it), so a
crashed process holds its users' slots for at most that long."""
from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

# KEYS[1]: the user's set; ARGV: now, lapse time, cap, member, ttl in ms. Returns 1 when claimed.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""
# One client per event loop: an asyncio connection pool is bound to the loop that opened it.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def redis_client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _clients[loop]


def claims_key(user_id: int) -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG'].get('prefix', 'vmb')}:ws-open:{user_id}"


async def claim(user_id: int, channel_name: str) -> bool:
    """Count ``channel_name`` as one of the user's open sockets; False when the user is at the cap."""
    now = time.time()
    ttl = settings.WS_CLAIM_TTL_S
    claimed = await redis_client().eval(_CLAIM, 1, claims_key(user_id), now, now + ttl, settings.WS_MAX_PER_USER,
                                  channel_name, int(ttl * 2000))
    return bool(claimed)


async def release(user_id: int, channel_name: str) -> None:
    await redis_client().zrem(claims_key(user_id), channel_name)


class GroupEventsConsumer(AsyncJsonWebsocketConsumer):
    """A socket that forwards one Channels group's events to a user allowed to see them.

    Subclasses name the URL keyword (``object_kwarg``), the check (``allowed``), the group
    (``group_for``) and the hello's key (``hello_key``). Refusals: 4403 not allowed, 4429 the user
    already holds ``WS_MAX_PER_USER`` sockets. A client may send ``{"type": "ping"}`` (which also
    renews its claim); anything else gets an error message."""

    object_kwarg = ""
    hello_key = ""
    group: str | None = None
    claimed_by: int | None = None

    async def allowed(self, user: Any, object_id: int) -> bool:
        raise NotImplementedError

    def group_for(self, object_id: int) -> str:
        raise NotImplementedError

    async def accept_client(self, object_id: int) -> None:
        """Called once the socket is accepted, before the hello (per-socket state goes here)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        object_id = int(self.scope["url_route"]["kwargs"][self.object_kwarg])
        if user is None or not user.is_authenticated or not await self.allowed(user, object_id):
            await self.close(code=4403)
            return
        if not await claim(user.pk, self.channel_name):
            await self.close(code=4429)  # too many open sockets for this user
            return
        self.claimed_by = user.pk
        await self.accept_client(object_id)
        self.group = self.group_for(object_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", self.hello_key: object_id})

    async def disconnect(self, code: int) -> None:
        if self.claimed_by is not None:
            await release(self.claimed_by, self.channel_name)
            self.claimed_by = None
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            if self.claimed_by is not None:
                await claim(self.claimed_by, self.channel_name)
            await self.send_json({"type": "pong", "nonce": content.get("nonce")})
        else:
            await self.send_json({"type": "error", "message": "unknown message; send {\"type\": \"ping\"}"})

    async def project_event(self, message: dict[str, Any]) -> None:
        # domain.events.publish sends every group message with this handler type.
        await self.send_json(message["event"])
