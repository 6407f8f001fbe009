"""Compatibility redirect: the factory once lived here; it resolves to the canonical one.

Each name is looked up lazily so its use warns once and is counted.
"""

from __future__ import annotations

from typing import Any

from reference_backend.agents.supervisor import execution_engine_factory as _canonical

_REDIRECTED = (
    "ExecutionEngineFactory",
    "UserExecutionContext",
    "UserExecutionEngine",
    "FactoryError",
)


def __getattr__(name: str) -> Any:
    if name not in _REDIRECTED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _canonical.record_compat_use(f"{__name__}.{name}", f"{_canonical.__name__}.{name}")
    return getattr(_canonical, name)
