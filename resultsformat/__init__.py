"""The results format: what a load run writes, what every reader reads, and the one counting rule.

``loadtests`` writes results directories and ``analysis`` reads them; neither
imports the other. What both must agree on lives here, once: the event
schema, the failure kinds and their precedence, and how failures are counted
(:mod:`resultsformat.counting`). ``results/README.md`` documents the format
for readers in other languages.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resultsformat.counting import RunCounts, count_runs, requests_by_name
    from resultsformat.schema import (
        DEFECT_KINDS,
        FAILURE_KINDS,
        GOLDEN_PATH,
        ITERATION,
        LATE_FRAME,
        NOT_REQUEST_KINDS,
        OK,
        READABLE_VERSIONS,
        RESPONSE,
        SCHEMA,
        SCHEMA_VERSION,
        is_request,
        precedence,
    )

# Imported on first use (PEP 562): every `goldenpath` verb imports resultsformat.cli, and
# a usage error or the backend's start need neither pandas (counting) nor pyarrow (schema).
_EXPORTS = {
    **dict.fromkeys(("RunCounts", "count_runs", "requests_by_name"), "resultsformat.counting"),
    **dict.fromkeys(
        (
            "DEFECT_KINDS",
            "FAILURE_KINDS",
            "GOLDEN_PATH",
            "ITERATION",
            "LATE_FRAME",
            "NOT_REQUEST_KINDS",
            "OK",
            "READABLE_VERSIONS",
            "RESPONSE",
            "SCHEMA",
            "SCHEMA_VERSION",
            "is_request",
            "precedence",
        ),
        "resultsformat.schema",
    ),  # fmt: skip
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'resultsformat' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFECT_KINDS",
    "FAILURE_KINDS",
    "GOLDEN_PATH",
    "ITERATION",
    "LATE_FRAME",
    "NOT_REQUEST_KINDS",
    "OK",
    "READABLE_VERSIONS",
    "RESPONSE",
    "SCHEMA",
    "SCHEMA_VERSION",
    "RunCounts",
    "count_runs",
    "is_request",
    "precedence",
    "requests_by_name",
]
