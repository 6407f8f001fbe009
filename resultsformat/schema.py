"""The event log's schema, request names and failure kinds (``results/README.md``)."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

#: Version 2 added ``msg_id`` and ``prior_kind`` (late-frame rows). Readers accept 1 and 2.
SCHEMA_VERSION: Final = 2
READABLE_VERSIONS: Final = (1, 2)

SCHEMA: Final = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("user", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
        ("ms", pa.float64()),
        ("service_ms", pa.float64()),
        ("ok", pa.bool_()),
        ("failure_kind", pa.string()),
        ("close_code", pa.int32()),
        ("worker", pa.string()),
        ("run_id", pa.string()),
        ("detail", pa.string()),
        ("msg_id", pa.string()),
        ("prior_kind", pa.string()),
    ]
)
#: Columns a version-1 file lacks; readers treat them as null.
ADDED_IN_V2: Final = ("msg_id", "prior_kind")

# Request names (the ``name`` column).
RESPONSE: Final = "response"  # one row per agent run: send -> agent_completed
GOLDEN_PATH: Final = "golden_path"  # login -> response, per-iteration mode; repeats the outcome
ITERATION: Final = "iteration"  # open model: an iteration that was due but never started
LATE_FRAME: Final = "late_frame"  # a frame read after its run's row was written (see counting)

#: Failure kinds in order of precedence: when one agent run has several
#: findings, its outcome is the first of them in this list.
FAILURE_KINDS: Final = (
    "isolation_violation",  # a frame carried another user's id, canary or client_msg_id
    "ws_close_1011",  # the server closed the socket with 1011 before the reply
    "ws_close_other",  # ... with any other code
    "protocol_error",  # an ``error`` event or an unparseable frame
    "interrupted",  # the load ended while the run was in flight: not the backend's doing
    "timeout",  # no agent_completed within the response timeout
    "missing_event",  # agent_completed came, an earlier event never did
    "out_of_order",  # the five events in another order, twice, from several runs, or late
    "auth_failed",
    "connect_failed",
    "http_error",
    "dropped",  # open model: due, but no virtual user was free; never started
)
#: Zero-tolerance defects of the backend.
DEFECT_KINDS: Final = ("isolation_violation", "ws_close_1011")
#: Rows that are not requests the backend answered: never started, or cut by the harness.
NOT_REQUEST_KINDS: Final = ("dropped", "interrupted")
#: ``prior_kind`` of a late-frame row whose run had passed every check.
OK: Final = "ok"

_RANK: Final = {kind: i for i, kind in enumerate(FAILURE_KINDS)}


def precedence(kind: str | None) -> int:
    """Lower is more serious; a passed check (None) ranks after every failure kind."""
    if kind is None or kind == OK:
        return len(FAILURE_KINDS) + 1
    return _RANK.get(kind, len(FAILURE_KINDS))


def is_request(name: str, failure_kind: str | None) -> bool:
    """Whether a row is a request the backend answered (counted in rates and totals)."""
    return name != LATE_FRAME and failure_kind not in NOT_REQUEST_KINDS
