"""How a run ended (``meta.json``'s ``end_reason``): the one rule for "did it complete".

A run's figures are whole only when the harness wrote ``end_reason: completed``
at its end. Anything else, a missing field included, is an unfinished run:
the report warns, the comparison notes it and the gate's ``runs-completed``
objective fails. A ``meta.json`` without ``end_reason`` comes from a harness
killed before its first write finished, or from a tool that is not this one;
nobody can vouch for its figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

COMPLETED: Final = "completed"
#: Every ``end_reason`` the harness writes, and what it means.
END_REASONS: Final = {
    COMPLETED: "the run went to its planned end",
    "running": "the run never finished writing (the harness was killed mid-run)",
    "backend_died": "the backend under test died or stopped answering /health",
    "worker_lost": "a Locust worker stopped reporting; the others ran on",
    "write_failed": "the results could not be written; the run was stopped",
    "error": "the backend or the workers did not start, or the run overran its bound",
    "interrupted": "interrupted by the user",
}
#: What an ``end_reason`` absent from ``meta.json`` reads as.
MISSING: Final = "missing"


def end_reason(meta: Mapping[str, Any]) -> str:
    """The run's ``end_reason``, or ``missing``."""
    reason = meta.get("end_reason")
    return str(reason) if reason else MISSING


def is_completed(meta: Mapping[str, Any]) -> bool:
    """Whether the run went to its planned end; a missing ``end_reason`` is unfinished."""
    return end_reason(meta) == COMPLETED


def describe_end(meta: Mapping[str, Any]) -> str:
    """``worker_lost (1 of 2 Locust workers stopped reporting)``: reason and detail."""
    detail = meta.get("end_detail")
    return f"{end_reason(meta)} ({detail})" if detail else end_reason(meta)
