"""The supervisor's execution-engine factory: the one canonical implementation."""

from reference_backend.agents.supervisor.execution_engine_factory import (
    ExecutionEngineFactory,
    FactoryError,
    FactoryShutdownError,
    InvalidContextError,
    UserEngineLimitError,
    UserExecutionContext,
    UserExecutionEngine,
)

__all__ = [
    "ExecutionEngineFactory",
    "FactoryError",
    "FactoryShutdownError",
    "InvalidContextError",
    "UserEngineLimitError",
    "UserExecutionContext",
    "UserExecutionEngine",
]
