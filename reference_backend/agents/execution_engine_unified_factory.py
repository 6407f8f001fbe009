"""Compatibility path: ``UnifiedExecutionEngineFactory`` delegates to the canonical factory.

Old callers construct it and call ``configure(bridge)``; every call forwards to
one held :class:`ExecutionEngineFactory`. It warns once and is counted in
``backwards_compatibility_usage``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from reference_backend.agent import ModelProvider, SimulatedModel
from reference_backend.agents.supervisor.execution_engine_factory import (
    ExecutionEngineFactory,
    FactoryError,
    UserExecutionContext,
    UserExecutionEngine,
    record_compat_use,
)
from reference_backend.bridge import WebSocketBridge

_PATH = "reference_backend.agents.execution_engine_unified_factory.UnifiedExecutionEngineFactory"
_REPLACEMENT = "reference_backend.agents.supervisor.ExecutionEngineFactory"


class UnifiedExecutionEngineFactory:
    """Deprecated wrapper: forwards every call to a canonical ``ExecutionEngineFactory``."""

    def __init__(self, factory: ExecutionEngineFactory | None = None) -> None:
        record_compat_use(_PATH, _REPLACEMENT)
        self._factory = factory

    def configure(
        self, websocket_bridge: WebSocketBridge, model: ModelProvider | None = None
    ) -> ExecutionEngineFactory:
        """Build the held canonical factory around ``websocket_bridge`` (the old API)."""
        self._factory = ExecutionEngineFactory(
            websocket_bridge=websocket_bridge, model=model or SimulatedModel()
        )
        return self._factory

    @property
    def factory(self) -> ExecutionEngineFactory:
        if self._factory is None:
            raise FactoryError("UnifiedExecutionEngineFactory used before configure(bridge)")
        return self._factory

    async def create_for_user(self, context: UserExecutionContext) -> UserExecutionEngine:
        return await self.factory.create_for_user(context)

    async def create_execution_engine(self, context: UserExecutionContext) -> UserExecutionEngine:
        return await self.factory.create_for_user(context)

    @contextlib.asynccontextmanager
    async def user_execution_scope(
        self, context: UserExecutionContext
    ) -> AsyncIterator[UserExecutionEngine]:
        async with self.factory.user_execution_scope(context) as engine:
            yield engine

    async def cleanup_engine(self, engine: UserExecutionEngine) -> None:
        return await self.factory.cleanup_engine(engine)

    async def shutdown(self) -> None:
        return await self.factory.shutdown()

    def get_factory_metrics(self) -> dict[str, Any]:
        return self.factory.get_factory_metrics()
