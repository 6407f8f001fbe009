"""Legacy factory #4: "request scoped", yet every instance shares one class-level map."""

from __future__ import annotations

from typing import Any

from reference_backend.legacy.engine import ExecutionEngine
from reference_backend.legacy.supervisor.execution_engine_factory import (
    ExecutionEngineFactory as _SupervisorFactory,
)


class RequestScopedExecutionEngineFactory(_SupervisorFactory):
    """Made per request, but the engines live in a class attribute shared by all."""

    shared_engines: dict[str, ExecutionEngine] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._active_engines = self.shared_engines
