"""Scale-out: events through Redis pub/sub, one channel per user (``GOLDENPATH_REDIS_URL``).

With several workers (``--workers N``) or hosts, a user's sockets may live in any
process. The bridge then publishes each event on the user's channel
(``<prefix>:user:<user_id>``) instead of writing it to local sockets, and every
worker subscribes to the channels of the users it has sockets for and delivers
what arrives to them. A worker subscribes *before* it accepts a socket, so no
event published after the client sees its socket open can miss it.

Redis keeps one publisher's messages in order, so a run's events arrive in
order. If Redis goes away, ``healthy`` turns False (``/ready`` answers 503),
publishing raises :class:`BrokerUnavailable` (the run ends with an ``error``
event ``broker_unavailable`` on the user's local sockets, not a silent 1011),
and the listener reconnects with backoff and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], Awaitable[None] | None]


class BrokerUnavailable(RuntimeError):
    """Redis cannot be reached: the event was not published."""


class RedisBroker:
    """Per-user channels on one Redis; ``deliver(user_id, payload)`` gets what arrives."""

    def __init__(self, url: str, deliver: Deliver, *, prefix: str = "goldenpath") -> None:
        self.url = url
        self._deliver = deliver
        self._prefix = prefix
        # A connection the pool kept from before a Redis restart fails once: retried at once.
        self._redis: aioredis.Redis = aioredis.from_url(  # type: ignore[no-untyped-call]
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # subscription changes, one at a time
        self._refs: dict[str, int] = {}  # user -> local sockets (and sockets being opened)
        self.healthy = False

    def channel(self, user_id: str) -> str:
        return f"{self._prefix}:user:{user_id}"

    def key(self, *parts: str) -> str:
        return ":".join([self._prefix, *parts])

    @property
    def client(self) -> aioredis.Redis:
        return self._redis

    async def start(self) -> None:
        """Connect (raises BrokerUnavailable when Redis cannot be reached) and listen."""
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"cannot reach Redis at {self.url}: {exc}") from None
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self.healthy = True
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    async def publish(self, user_id: str, payload: bytes) -> int:
        """Publish one event; returns how many workers received it."""
        try:
            return int(await self._redis.publish(self.channel(user_id), payload))
        except (RedisError, OSError) as exc:
            self.healthy = False
            raise BrokerUnavailable(f"Redis: {exc}") from None

    async def subscribe(self, user_id: str) -> None:
        """One more local socket for ``user_id``: subscribe its channel on the first."""
        async with self._lock:
            self._refs[user_id] = self._refs.get(user_id, 0) + 1
            if self._refs[user_id] == 1 and self._pubsub is not None:
                try:
                    await self._pubsub.subscribe(self.channel(user_id))
                except (RedisError, OSError) as exc:
                    self.healthy = False  # the listener subscribes again once it reconnects
                    log.warning("subscribing %s failed: %s", user_id, exc)

    async def unsubscribe(self, user_id: str) -> None:
        """One socket fewer; unsubscribe when the user has none left here."""
        async with self._lock:
            left = self._refs.get(user_id, 0) - 1
            if left > 0:
                self._refs[user_id] = left
                return
            self._refs.pop(user_id, None)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self.channel(user_id))

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                if not self.healthy:  # a failed publish or read: a fresh connection first
                    await self._reconnect()
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)  # nothing to listen to yet
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
                if message is None or message.get("type") != "message":
                    continue
                channel = message["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                user_id = channel.split(":user:", 1)[1]
                result = self._deliver(user_id, message["data"])
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.healthy:
                    log.warning("Redis connection lost: %s", exc)
                self.healthy = False
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)

    async def _reconnect(self) -> None:
        """A fresh subscriber connection with every channel of this worker's users; raises
        RedisError while Redis is still away."""
        async with self._lock:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await self._redis.ping()
            channels = [self.channel(u) for u in self._refs]
            if channels:
                await self._pubsub.subscribe(*channels)
            self.healthy = True
            log.info("Redis connection back; %d channel(s) subscribed", len(channels))


def check_redis_url(url: str, timeout_s: float = 2.0) -> str | None:
    """None when Redis answers a PING at ``url``; else one line saying why not."""
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
    except ValueError as exc:
        return f"GOLDENPATH_REDIS_URL {url!r}: {exc}"
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        return f"cannot reach Redis at {url}: {exc}"
    finally:
        client.close()
    return None
