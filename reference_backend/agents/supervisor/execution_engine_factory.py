"""The canonical ``ExecutionEngineFactory``: one per process, one engine per user run.

Its parts: the errors (``errors.py``), the immutable ``UserExecutionContext``
(``user_context.py``) and the ``UserExecutionEngine`` (``user_engine.py``), all
importable from here as before.

Isolation by construction: an engine holds its own immutable context and an
emitter bound to that context's user, and every registry change below happens
with no ``await`` in between, so concurrent requests cannot see or overwrite
one another's state. Compare ``reference_backend.legacy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import AsyncIterator
from typing import Any

from reference_backend.agent import ModelProvider
from reference_backend.agents.supervisor.errors import (
    FactoryError,
    FactoryShutdownError,
    InvalidContextError,
    UserEngineLimitError,
)
from reference_backend.agents.supervisor.user_context import PLACEHOLDER_IDS, UserExecutionContext
from reference_backend.agents.supervisor.user_engine import UserExecutionEngine
from reference_backend.audit import AuditTrail
from reference_backend.bridge import WebSocketBridge

__all__ = [
    "PLACEHOLDER_IDS",
    "ExecutionEngineFactory",
    "FactoryError",
    "FactoryShutdownError",
    "InvalidContextError",
    "UserEngineLimitError",
    "UserExecutionContext",
    "UserExecutionEngine",
    "record_compat_use",
]

log = logging.getLogger(__name__)


# Compatibility paths warn once per process and are counted here, so the
# factory metrics show how much old code still calls them.
_COMPAT_USAGE: Counter[str] = Counter()
_COMPAT_WARNED: set[str] = set()


def record_compat_use(path: str, replacement: str) -> None:
    """Count one use of a compatibility path; warn the first time."""
    _COMPAT_USAGE[path] += 1
    if path not in _COMPAT_WARNED:
        _COMPAT_WARNED.add(path)
        warnings.warn(f"{path} is deprecated; use {replacement}", DeprecationWarning, stacklevel=3)


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 6)

    return {
        "count": len(ordered),
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "max": round(ordered[-1], 6),
    }


class ExecutionEngineFactory:
    """The one factory: an isolated ``UserExecutionEngine`` per user run.

    Parameters:
        websocket_bridge: the one bridge; each engine gets an emitter bound to its user.
        model: the model provider engines run.
        audit: where create/cleanup is recorded per user (None: not recorded).
        max_engines_per_user: more concurrent engines for one user are refused.
        engine_idle_timeout_s: engines unused this long are reaped.
        reap_interval_s: how often the reaper looks (default: a tenth of the timeout).
    """

    _instances = itertools.count(1)

    def __init__(
        self,
        *,
        websocket_bridge: WebSocketBridge,
        model: ModelProvider,
        audit: AuditTrail | None = None,
        max_engines_per_user: int = 8,
        engine_idle_timeout_s: float = 300.0,
        reap_interval_s: float | None = None,
    ) -> None:
        if max_engines_per_user < 1:
            raise ValueError("max_engines_per_user must be at least 1")
        self._bridge = websocket_bridge
        self._model = model
        self._audit = audit if audit is not None else AuditTrail(None)
        self.max_engines_per_user = max_engines_per_user
        self.engine_idle_timeout_s = engine_idle_timeout_s
        self._reap_interval_s = reap_interval_s or max(0.05, engine_idle_timeout_s / 10)
        self._engines: dict[str, UserExecutionEngine] = {}
        self._by_user: dict[str, set[str]] = {}
        self._creation_ms: deque[float] = deque(maxlen=10_000)
        self._reaper: asyncio.Task[None] | None = None
        self._shutting_down = False
        self._started_at = time.monotonic()
        self.instance_id = next(self._instances)
        self._counts: Counter[str] = Counter()

    @property
    def websocket_bridge(self) -> WebSocketBridge:
        return self._bridge

    async def start(self) -> None:
        """Start the idle-engine reaper (called once, from the app's lifespan)."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="engine-reaper")

    async def create_for_user(self, context: UserExecutionContext) -> UserExecutionEngine:
        """A new engine for ``context``; registered only after its validation passed."""
        started = time.perf_counter()
        if self._shutting_down:
            raise FactoryShutdownError("the factory is shutting down")
        if not isinstance(context, UserExecutionContext):
            self._counts["creation_errors"] += 1
            raise InvalidContextError(f"expected UserExecutionContext, got {type(context)!r}")
        user_id = context.user_id
        held = self._by_user.get(user_id, set())
        if len(held) >= self.max_engines_per_user:
            self._counts["user_limit_rejections"] += 1
            raise UserEngineLimitError(
                f"user {user_id!r} already holds {len(held)} engines "
                f"(max_engines_per_user={self.max_engines_per_user})"
            )
        engine = UserExecutionEngine(
            context=context,
            emit=self._bridge.emitter_for(user_id),
            emit_user_id=user_id,
            model=self._model,
        )
        try:
            engine.validate()
        except FactoryError:
            self._counts["creation_errors"] += 1
            raise
        self._counts["user_isolation_validations"] += 1
        # Registered only now: a failed validation above holds no slot.
        self._engines[engine.engine_id] = engine
        self._by_user.setdefault(user_id, set()).add(engine.engine_id)
        self._counts["total_engines_created"] += 1
        self._creation_ms.append((time.perf_counter() - started) * 1000)
        self._audit.record(user_id, "engine_created", context.run_id, engine.engine_id)
        return engine

    async def create_execution_engine(self, context: UserExecutionContext) -> UserExecutionEngine:
        """Deprecated alias of :meth:`create_for_user`."""
        record_compat_use(
            "ExecutionEngineFactory.create_execution_engine",
            "ExecutionEngineFactory.create_for_user",
        )
        return await self.create_for_user(context)

    @contextlib.asynccontextmanager
    async def user_execution_scope(
        self, context: UserExecutionContext
    ) -> AsyncIterator[UserExecutionEngine]:
        """An engine for the block; cleaned up however the block ends."""
        engine = await self.create_for_user(context)
        try:
            yield engine
        finally:
            await self.cleanup_engine(engine)

    async def cleanup_engine(self, engine: UserExecutionEngine) -> None:
        """Unregister and close ``engine``; a second cleanup of it does nothing."""
        self._release(engine, reason="engine_cleaned")

    def _release(self, engine: UserExecutionEngine, *, reason: str) -> bool:
        if self._engines.pop(engine.engine_id, None) is None:
            return False
        try:
            held = self._by_user.get(engine.user_id)
            if held is not None:
                held.discard(engine.engine_id)
                if not held:
                    del self._by_user[engine.user_id]
            engine.close()
        except Exception:
            self._counts["cleanup_errors"] += 1
            log.exception("cleanup of engine %s failed", engine.engine_id)
            return False
        self._counts["total_engines_cleaned"] += 1
        if reason == "engine_reaped":
            self._counts["timeout_cleanups"] += 1
        self._audit.record(engine.user_id, reason, engine.context.run_id, engine.engine_id)
        return True

    def reap_idle(self, now: float | None = None) -> int:
        """Clean every engine idle past the timeout; returns how many."""
        now = time.monotonic() if now is None else now
        idle = [e for e in self._engines.values() if e.is_idle(now, self.engine_idle_timeout_s)]
        return sum(self._release(e, reason="engine_reaped") for e in idle)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reap_interval_s)
            self.reap_idle()

    async def shutdown(self) -> None:
        """Refuse new engines, stop the reaper, clean every engine."""
        self._shutting_down = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for engine in list(self._engines.values()):
            self._release(engine, reason="engine_cleaned")

    def get_factory_metrics(self) -> dict[str, Any]:
        """Counters under the original system's names, plus per-user and timing detail."""
        counts = self._counts
        return {
            "factory_type": type(self).__name__,
            "factory_mode": "canonical",
            "factory_instance": self.instance_id,
            "total_engines_created": counts["total_engines_created"],
            "total_engines_cleaned": counts["total_engines_cleaned"],
            "active_engines_count": len(self._engines),
            "creation_errors": counts["creation_errors"],
            "cleanup_errors": counts["cleanup_errors"],
            "timeout_cleanups": counts["timeout_cleanups"],
            "user_limit_rejections": counts["user_limit_rejections"],
            "user_isolation_validations": counts["user_isolation_validations"],
            "backwards_compatibility_usage": dict(_COMPAT_USAGE),
            "active_users_count": len(self._by_user),
            "active_engines_per_user": {u: len(e) for u, e in self._by_user.items()},
            "max_engines_per_user": self.max_engines_per_user,
            "engine_idle_timeout_s": self.engine_idle_timeout_s,
            "creation_time_ms": _percentiles(list(self._creation_ms)),
            "uptime_s": round(time.monotonic() - self._started_at, 3),
            "shutting_down": self._shutting_down,
        }
