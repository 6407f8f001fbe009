"""Compatibility path: ``RequestScopedExecutionEngineFactory`` is the canonical class.

Every engine the canonical factory makes is already request scoped; the old
name resolves to it, warning once and counted.
"""

from __future__ import annotations

from typing import Any

from reference_backend.agents.supervisor import execution_engine_factory as _canonical

_ALIASES = {"RequestScopedExecutionEngineFactory": "ExecutionEngineFactory"}


def __getattr__(name: str) -> Any:
    target = _ALIASES.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _canonical.record_compat_use(f"{__name__}.{name}", f"{_canonical.__name__}.{target}")
    return getattr(_canonical, target)
