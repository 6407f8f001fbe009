"""Legacy factory #3: the core managers' copy, which the metrics endpoint reported from."""

from __future__ import annotations

from reference_backend.legacy.supervisor.execution_engine_factory import (
    ExecutionEngineFactory as _SupervisorFactory,
)


class ExecutionEngineFactory(_SupervisorFactory):
    """Never handed a request, so its metrics say nothing about the engines in use."""
