"""The golden-path checks: order, isolation, completeness and close codes.

Pure functions over received frames, so Locust users, ``goldenpath smoke`` and
the tests apply exactly the same rules.

Failure kinds (``RunCheck.failure_kind``), in order of precedence::

    isolation_violation  a frame carried another user's id, or a canary this user never sent
    ws_close_1011        the server closed the socket with 1011 before the reply
    ws_close_other       the server closed it with any other code before the reply
    protocol_error       an ``error`` event or an unparseable frame
    timeout              no ``agent_completed`` within the timeout
    missing_event        ``agent_completed`` came but an earlier event never did
    out_of_order         the five events came in another order, twice, or with mixed run ids
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

GOLDEN_PATH_EVENTS = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
FAILURE_KINDS = (
    "isolation_violation",
    "ws_close_1011",
    "ws_close_other",
    "protocol_error",
    "timeout",
    "missing_event",
    "out_of_order",
    "auth_failed",
    "connect_failed",
    "http_error",
    "dropped",
)
_CANARY = re.compile(r"CANARY-[0-9a-f]{20}")
NORMAL_CLOSES = (1000, 1001)


def new_canary() -> str:
    """A marker unique to one message; it must come back to this user only."""
    return f"CANARY-{uuid.uuid4().hex[:20]}"


class GoldenPathFailure(Exception):
    """A failed check, named by its kind; the message groups well in Locust's failure table."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass
class RunCheck:
    """What one user saw of one agent run."""

    user_id: str
    canary: str
    types: list[str] = field(default_factory=list)
    run_ids: set[str] = field(default_factory=set)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: bool = False
    close_code: int | None = None
    timed_out: bool = False
    reply: str | None = None
    # This user's earlier runs that never completed here (timed out, or their socket
    # closed): their canaries and the run ids seen of them. Runs outlive their
    # socket: the backend delivers their late events to the same user's next
    # socket. Those are the user's own, not a leak, and not part of this run.
    earlier: frozenset[str] = frozenset()
    earlier_runs: set[str] = field(default_factory=set)  # grows as their canaries show up
    stale: int = 0  # events of the earlier runs, set aside

    def observe(self, raw: str | bytes) -> dict[str, Any] | None:
        """Check one frame; returns the parsed event (None if it was not JSON)."""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        # Isolation first, on the raw text: a foreign canary anywhere counts.
        found = _CANARY.findall(text)
        self.foreign.extend(c for c in found if c != self.canary and c not in self.earlier)
        quotes_earlier = any(c in self.earlier for c in found)
        try:
            event = json.loads(text)
        except ValueError:
            self.errors.append("unparseable frame")
            return None
        if not isinstance(event, dict):
            self.errors.append("frame is not an object")
            return None
        kind = str(event.get("type"))
        owner = event.get("user_id")
        if owner is not None and owner != self.user_id:
            self.foreign.append(f"user_id={owner}")
        run = event.get("run_id")
        if run and quotes_earlier:
            self.earlier_runs.add(str(run))
        if run and str(run) in self.earlier_runs:
            self.stale += 1
            return event
        if kind == "error":
            self.errors.append(str((event.get("data") or {}).get("code", "error")))
            return event
        if kind in GOLDEN_PATH_EVENTS:
            self.types.append(kind)
            if event.get("run_id"):
                self.run_ids.add(str(event["run_id"]))
            if kind == "agent_completed" and self.canary in text:
                self.completed = True
                self.reply = str((event.get("data") or {}).get("result", ""))
        return event

    @property
    def done(self) -> bool:
        """Stop reading: our reply came, or the run cannot succeed any more."""
        return self.completed or bool(self.errors) or self.close_code is not None

    @property
    def failure_kind(self) -> str | None:
        if self.foreign:
            return "isolation_violation"
        if not self.completed and self.close_code is not None:
            return "ws_close_1011" if self.close_code == 1011 else "ws_close_other"
        if self.errors:
            return "protocol_error"
        if not self.completed:
            return "timeout"
        if any(t not in self.types for t in GOLDEN_PATH_EVENTS):
            return "missing_event"
        if tuple(self.types) != GOLDEN_PATH_EVENTS or len(self.run_ids) != 1:
            return "out_of_order"
        return None

    def failure(self) -> GoldenPathFailure | None:
        kind = self.failure_kind
        if kind is None:
            return None
        details = {
            "isolation_violation": f"{len(self.foreign)} foreign marker(s)",
            "ws_close_1011": "server closed the socket with 1011",
            "ws_close_other": f"server closed the socket with {self.close_code}",
            "protocol_error": ", ".join(sorted(set(self.errors))),
            "timeout": f"{len(self.types)} of 5 events before the timeout",
            "missing_event": "missing "
            + ", ".join(t for t in GOLDEN_PATH_EVENTS if t not in self.types),
            "out_of_order": "events out of order or from several runs",
        }
        return GoldenPathFailure(kind, details[kind])


def failure_kind_of(exc: BaseException | None) -> str | None:
    """The failure kind of an exception Locust recorded (ours, or an HTTP/socket error)."""
    if exc is None:
        return None
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str):
        return kind
    text = str(exc)
    head = text.split(":", 1)[0].strip()
    if head in FAILURE_KINDS:
        return head
    if isinstance(exc, (ConnectionError, OSError, TimeoutError)) or "Connection" in text:
        return "connect_failed"
    return "http_error"
