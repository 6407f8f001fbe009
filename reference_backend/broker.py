"""Scale-out: events through Redis pub/sub, one channel per user (``GOLDENPATH_REDIS_URL``).

With several workers (``--workers N``) or hosts, a user's sockets may live in any
process. The bridge then publishes each event on the user's channel
(``<prefix>:user:<user_id>``) instead of writing it to local sockets, and every
worker subscribes to the channels of the users it has sockets for and delivers
what arrives to them. A worker subscribes, and waits for Redis to confirm the
subscription, *before* it accepts a socket: an event published after the
client sees its socket open reaches it.

Redis keeps the order of what it processes, so a run's events arrive in
order. Publishing and listening use separate connections and separate health:
a failed publish does not tear down the listener. The listener's connection
does not retry by itself (redis-py would reconnect and resubscribe silently,
losing what was published meanwhile): a broken one is reported (``healthy``
False, ``/ready`` 503, ``reconnects`` counted) and rebuilt. Publishing while
Redis is away raises :class:`BrokerUnavailable` (the run ends with an
``error`` event ``broker_unavailable`` on the user's local sockets, not a
silent 1011). Pub/sub is fire-and-forget: events published while this
worker's listener was disconnected are lost, and counted as a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], None]
SUBSCRIBE_WAIT_S = 2.0


class BrokerUnavailable(RuntimeError):
    """Redis cannot be reached: the event was not published."""


class RedisBroker:
    """Per-user channels on one Redis; ``deliver(user_id, payload)`` gets what arrives."""

    def __init__(self, url: str, deliver: Deliver, *, prefix: str = "goldenpath") -> None:
        self.url = url
        self._deliver = deliver
        self._prefix = prefix
        common: dict[str, Any] = {"socket_connect_timeout": 2, "health_check_interval": 10}
        # publishing: a connection the pool kept from before a Redis restart fails once,
        # and is retried at once
        self._pub: aioredis.Redis = aioredis.from_url(  # type: ignore[no-untyped-call]
            url,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
            **common,
        )
        # listening: no retry, so a lost subscription is seen, not silently remade
        self._sub: aioredis.Redis = aioredis.from_url(  # type: ignore[no-untyped-call]
            url, retry=Retry(NoBackoff(), 0), **common
        )
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # subscription changes, one at a time
        self._refs: dict[str, int] = {}  # user -> local sockets (and sockets being opened)
        self._confirm: dict[str, asyncio.Event] = {}  # channel -> subscribed
        self._barrier = f"{prefix}:barrier:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._barriers: dict[str, asyncio.Event] = {}
        self._sub_ok = False
        self._pub_ok = False
        self.reconnects = 0

    @property
    def healthy(self) -> bool:
        return self._sub_ok and self._pub_ok

    @property
    def client(self) -> aioredis.Redis:
        """The publishing client (the failed-login limits use it too)."""
        return self._pub

    def channel(self, user_id: str) -> str:
        return f"{self._prefix}:user:{user_id}"

    async def start(self) -> None:
        """Connect (raises BrokerUnavailable when Redis cannot be reached) and listen."""
        try:
            await self._pub.ping()
            await self._connect_listener()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"cannot reach Redis at {self.url}: {exc}") from None
        self._pub_ok = True
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        for close in (self._close_pubsub, self._sub.aclose, self._pub.aclose):
            with contextlib.suppress(Exception):
                await close()

    async def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def publish(self, user_id: str, payload: bytes) -> int:
        """Publish one event; returns how many workers received it."""
        try:
            received = int(await self._pub.publish(self.channel(user_id), payload))
        except (RedisError, OSError) as exc:
            self._pub_ok = False
            raise BrokerUnavailable(f"Redis: {exc}") from None
        self._pub_ok = True
        return received

    async def subscribe(self, user_id: str) -> None:
        """One more local socket for ``user_id``: on the first, subscribe to its channel and
        wait (at most SUBSCRIBE_WAIT_S) until Redis confirms it."""
        channel = self.channel(user_id)
        confirmed: asyncio.Event | None = None
        async with self._lock:
            self._refs[user_id] = self._refs.get(user_id, 0) + 1
            if self._refs[user_id] == 1:
                confirmed = self._confirm[channel] = asyncio.Event()
                try:
                    await self._pubsub.subscribe(channel)
                except (RedisError, OSError) as exc:
                    self._sub_ok = False  # the listener rebuilds it, with this channel
                    log.warning("subscribing %s failed: %s", user_id, exc)
            else:
                confirmed = self._confirm.get(channel)
        if confirmed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_WAIT_S)

    async def unsubscribe(self, user_id: str) -> None:
        """One socket fewer; unsubscribe when the user has none left here."""
        async with self._lock:
            left = self._refs.get(user_id, 0) - 1
            if left > 0:
                self._refs[user_id] = left
                return
            self._refs.pop(user_id, None)
            channel = self.channel(user_id)
            self._confirm.pop(channel, None)
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    async def barrier(self, timeout_s: float = 2.0) -> bool:
        """Wait until everything this worker published so far has come back through its
        listener (a token on its own channel, behind them); False on timeout."""
        token = uuid.uuid4().hex
        arrived = self._barriers[token] = asyncio.Event()
        try:
            await self._pub.publish(self._barrier, token)
            await asyncio.wait_for(arrived.wait(), timeout_s)
            return True
        except (RedisError, OSError, TimeoutError):
            return False
        finally:
            self._barriers.pop(token, None)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            event = self._confirm.get(channel)
            if event is not None:
                event.set()
        elif kind == "message" and channel == self._barrier:
            data = message["data"]
            waiter = self._barriers.get(data.decode() if isinstance(data, bytes) else str(data))
            if waiter is not None:
                waiter.set()
        elif kind == "message" and ":user:" in channel:
            self._deliver(channel.split(":user:", 1)[1], message["data"])

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                if not self._sub_ok:  # a lost or failed subscriber connection: a fresh one
                    await self._connect_listener()
                    self.reconnects += 1
                    log.info("Redis listener back; %d channel(s) subscribed", len(self._refs))
                if not self._pub_ok:
                    await self._pub.ping()
                    self._pub_ok = True
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
                if message is not None:
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._sub_ok:
                    log.warning("Redis connection lost: %s", exc)
                self._sub_ok = False
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
            except Exception:  # a bad message must not end the listener (and /ready with it)
                log.exception("Redis listener: a message could not be handled")

    async def _connect_listener(self) -> None:
        """A fresh subscriber connection with the barrier and every channel of this worker's
        users; raises RedisError while Redis is away."""
        async with self._lock:
            with contextlib.suppress(Exception):
                await self._close_pubsub()
            self._pubsub = self._sub.pubsub()
            await self._pubsub.subscribe(self._barrier, *(self.channel(u) for u in self._refs))
            self._sub_ok = True


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
