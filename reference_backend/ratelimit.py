"""Failed-login limits: a sliding window per username and per client address.

In memory and per process by default (``LoginLimiter``); with
``GOLDENPATH_REDIS_URL`` they live in Redis (``RedisLoginLimiter``), so every
worker and host counts against the same limit.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

# Keys are attacker-chosen (any username, any address): past this many, the
# least recently failed key is forgotten, so memory stays bounded.
MAX_TRACKED_KEYS = 100_000


class SlidingWindowCounter:
    """Failure timestamps per key within the last ``window_s`` seconds."""

    def __init__(
        self,
        *,
        limit: int,
        window_s: float,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def _live(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it is under the limit."""
        now = self._clock()
        hits = self._live(key, now)
        if hits is None or len(hits) < self.limit:
            return 0.0
        # The oldest failure that keeps the key at the limit has to leave the window.
        return hits[-self.limit] + self.window_s - now

    def add(self, key: str) -> None:
        now = self._clock()
        hits = self._live(key, now)
        if hits is None:
            # maxlen: older entries can never matter once ``limit`` newer ones exist.
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self._max_keys:
            self._hits.popitem(last=False)

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginLimiter:
    """Failed logins per username and per client address; successes are never counted.

    Parameters:
        max_failures_per_user: failures of one username allowed per window.
        max_failures_per_address: failures from one client address allowed per window.
        window_s: the sliding window, in seconds.
        clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        max_failures_per_user: int,
        max_failures_per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = SlidingWindowCounter(
            limit=max_failures_per_user, window_s=window_s, clock=clock
        )
        self._addresses = SlidingWindowCounter(
            limit=max_failures_per_address, window_s=window_s, clock=clock
        )

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds to wait before trying again (0: go ahead)."""
        wait = max(self._users.retry_after(username), self._addresses.retry_after(address))
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        self._users.add(username)
        self._addresses.add(address)

    def succeeded(self, username: str) -> None:
        # Only the user's own counter: one good password must not reset the
        # budget of an address that is guessing many other accounts.
        self._users.clear(username)


class RedisLoginLimiter:
    """The same limits, kept in Redis so that every worker and host counts together.

    Each key is a sorted set of failure times (wall clock), trimmed to the window
    and to the ``limit`` newest; it expires with the window. Its methods are
    coroutines (the in-memory limiter's are plain calls; ``auth`` awaits either).
    """

    def __init__(
        self,
        client: Any,
        *,
        max_failures_per_user: int,
        max_failures_per_address: int,
        window_s: float,
        prefix: str = "goldenpath",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._limits = {"user": max_failures_per_user, "address": max_failures_per_address}
        self._window_s = window_s
        self._prefix = prefix
        self._clock = clock

    def _key(self, kind: str, value: str) -> str:
        return f"{self._prefix}:login-failures:{kind}:{value}"

    async def _wait(self, kind: str, value: str, now: float) -> float:
        key, limit = self._key(kind, value), self._limits[kind]
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now - self._window_s)
        pipe.zrange(key, -limit, -limit, withscores=True)
        _, oldest = await pipe.execute()
        if not oldest:
            return 0.0  # fewer than ``limit`` failures in the window
        return float(oldest[0][1]) + self._window_s - now

    async def retry_after(self, username: str, address: str) -> int:
        now = self._clock()
        wait = max(
            await self._wait("user", username, now), await self._wait("address", address, now)
        )
        return max(1, math.ceil(wait)) if wait > 0 else 0

    async def failed(self, username: str, address: str) -> None:
        now = self._clock()
        pipe = self._redis.pipeline(transaction=False)
        for kind, value in (("user", username), ("address", address)):
            key = self._key(kind, value)
            pipe.zadd(key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
            pipe.zremrangebyrank(key, 0, -self._limits[kind] - 1)  # keep the newest ``limit``
            pipe.expire(key, math.ceil(self._window_s) + 1)
        await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self._redis.delete(self._key("user", username))
