"""Legacy factory #1 (the supervisor's): shared "current context" across an await."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from reference_backend.agent import ModelProvider
from reference_backend.db import Database
from reference_backend.legacy.bridge import BridgeHolder
from reference_backend.legacy.engine import ExecutionEngine, UserExecutionContext
from reference_backend.legacy.races import CONTEXT_SWAP, UNCONFIGURED_FACTORY, RaceCounters


class FactoryNotConfiguredError(RuntimeError):
    """A factory was used before ``configure``: no WebSocket bridge to send through."""


class ExecutionEngineFactory:
    """One instance serves every user; engines are kept by user id."""

    def __init__(
        self, db: Database, model: ModelProvider, races: RaceCounters | None = None
    ) -> None:
        self._db = db
        self._model = model
        self._races = races or RaceCounters()
        self._bridges: BridgeHolder | None = None
        self._current_context: UserExecutionContext | None = None
        self._active_engines: dict[str, ExecutionEngine] = {}
        self.counts: Counter[str] = Counter()

    def configure(self, bridges: BridgeHolder) -> None:
        """Point the factory at the process-wide bridge singleton (read at each create)."""
        self._bridges = bridges

    async def create_for_user(self, context: UserExecutionContext) -> ExecutionEngine:
        bridge = self._bridges.bridge if self._bridges is not None else None
        if bridge is None:
            self.counts["creation_errors"] += 1
            self._races.fired(UNCONFIGURED_FACTORY)
            raise FactoryNotConfiguredError(
                "ExecutionEngineFactory not configured: no WebSocket bridge"
            )
        # Kept on the shared factory "so helpers need not pass it around" ...
        self._current_context = context
        await asyncio.to_thread(
            self._db.record_audit,
            [(time.time(), context.user_id, "engine_created", context.run_id, None)],
        )
        # ... and read back after the await: by now it may be another user's.
        current = self._current_context
        if current is not context:
            self._races.fired(CONTEXT_SWAP)
        engine = ExecutionEngine(
            current, bridge, self._model, requested_by=context.user_id, races=self._races
        )
        self._active_engines[self._current_context.user_id] = engine
        self.counts["total_engines_created"] += 1
        return engine

    async def cleanup_engine(self, engine: ExecutionEngine) -> None:
        # Keyed by user: raises KeyError when a racing run already removed it.
        del self._active_engines[engine.context.user_id]
        self.counts["total_engines_cleaned"] += 1

    def get_factory_metrics(self) -> dict[str, Any]:
        return {
            "factory_type": f"{type(self).__module__}.{type(self).__name__}",
            "total_engines_created": self.counts["total_engines_created"],
            "total_engines_cleaned": self.counts["total_engines_cleaned"],
            "active_engines_count": len(self._active_engines),
            "creation_errors": self.counts["creation_errors"],
        }
