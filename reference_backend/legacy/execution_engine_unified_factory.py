"""Legacy factory #2: the "unified" one the HTTP chat route imported. A separate copy."""

from __future__ import annotations

from reference_backend.legacy.supervisor.execution_engine_factory import (
    ExecutionEngineFactory as _SupervisorFactory,
)


class UnifiedExecutionEngineFactory(_SupervisorFactory):
    """Its own instance, its own engines and its own "current context"."""
