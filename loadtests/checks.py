"""The golden-path checks of every frame a user reads: order, isolation, completeness, closes.

Pure functions over received frames, so Locust users, ``goldenpath smoke`` and
the tests apply exactly the same rules.

Every frame a virtual user reads goes through :meth:`RunCheck.observe`: frames
read while waiting for the reply, after it and before the close, while
closing, and those met when a send fails. A frame is charged to the run being
read, unless it belongs to another run of the same backend user:

* **foreign** (an isolation violation): it names another ``user_id``, or
  quotes a canary or carries a ``client_msg_id`` that no virtual user logged in
  as this backend user ever sent;
* **set aside**: a run of another virtual user sharing the account (the
  backend sends a user's events to all of its sockets), an earlier run of
  this virtual user that never completed (runs outlive their socket), or a
  run of this account too old to be remembered (its canary starts with the
  account's tag, ``crc32(user_id)``);
* **late**: an event of an earlier run of this virtual user that had already
  completed, which is a defect of that run (an event after its agent_completed).

Failure kinds, in order of precedence, are ``resultsformat.FAILURE_KINDS``:
``isolation_violation``, ``ws_close_1011``, ``ws_close_other``,
``protocol_error``, ``interrupted``, ``timeout``, ``missing_event``,
``out_of_order``.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from resultsformat import FAILURE_KINDS, OK

GOLDEN_PATH_EVENTS = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
_CANARY = re.compile(r"CANARY-[0-9a-f]{20}")
NORMAL_CLOSES = (1000, 1001)
#: Runs each virtual user keeps track of (their late events may still come).
RUNS_PER_USER = 64

#: A failure's message in Locust's tables is its kind and this fixed text, so each kind
#: is one row there; the variable detail (counts, ids) goes to the event log's ``detail``.
DESCRIPTIONS = {
    "isolation_violation": "a frame carried another user's id, canary or client_msg_id",
    "ws_close_1011": "the server closed the socket with 1011",
    "ws_close_other": "the server closed the socket with a code other than 1000/1001/1011",
    "protocol_error": "an error event or a frame that is not a JSON object",
    "interrupted": "the load ended while the run was in flight",
    "timeout": "no agent_completed within the response timeout",
    "missing_event": "agent_completed came but an earlier event never did",
    "out_of_order": "events out of order, repeated, from several runs or after agent_completed",
    "auth_failed": "login refused or unusable",
    "connect_failed": "no connection to the server",
    "http_error": "an HTTP error",
    "dropped": "open model: due, but no virtual user was free",
}
assert set(DESCRIPTIONS) == set(FAILURE_KINDS), "every failure kind has a description"


def account_tag(user_id: str) -> str:
    """The first 8 hex digits of every canary of one backend user: ``crc32(user_id)``."""
    return f"{zlib.crc32(user_id.encode()):08x}"


def new_canary(user_id: str | None = None) -> str:
    """A marker unique to one message (and its ``client_msg_id``); it must come back to this
    user only. It starts with the user's :func:`account_tag` (random without a user), so a
    frame of this user's own run that is too old to be remembered is still known as its
    own, not taken for another user's."""
    tag = account_tag(user_id) if user_id is not None else uuid.uuid4().hex[:8]
    return f"CANARY-{tag}{uuid.uuid4().hex[:12]}"


class GoldenPathFailure(Exception):
    """A failed check, named by its kind; ``detail`` is the variable part."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {DESCRIPTIONS.get(kind, kind)}")
        self.kind = kind
        self.detail = detail


class Account:
    """The runs of one backend user in this process, shared by every virtual user logged in
    as it (a pool smaller than the users, a short CSV): each one's messages are the others'
    own, never foreign."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.members = 0  # virtual users logged in as this account
        self._tag = f"CANARY-{account_tag(user_id)}"
        self._runs: OrderedDict[str, RunCheck] = OrderedDict()  # msg_id -> run, newest last
        self._run_ids: dict[str, str] = {}  # backend run_id -> msg_id, once seen together

    def begin(self, check: RunCheck) -> None:
        self._runs[check.msg_id] = check
        while len(self._runs) > RUNS_PER_USER * max(1, self.members):
            _, old = self._runs.popitem(last=False)
            for run_id in old.run_ids:
                self._run_ids.pop(run_id, None)

    def new_canary(self) -> str:
        return new_canary(self.user_id)

    def knows(self, msg_id: str) -> bool:
        """A message of this account: one of its remembered runs, or one too old to be
        remembered (it carries the account's tag)."""
        return msg_id in self._runs or msg_id.startswith(self._tag)

    def owner(self, msg_id: str | None, canaries: set[str], run_id: str | None) -> RunCheck | None:
        """The run a frame belongs to: by its client_msg_id, a canary it quotes, or its run_id."""
        if msg_id is not None:
            return self._runs.get(msg_id)
        for canary in canaries:
            if canary in self._runs:
                return self._runs[canary]
        if run_id is not None and run_id in self._run_ids:
            return self._runs.get(self._run_ids[run_id])
        return None

    def learn(self, run_id: str, check: RunCheck) -> None:
        self._run_ids.setdefault(run_id, check.msg_id)


@dataclass(eq=False)
class RunCheck:
    """What one virtual user saw of one agent run, and what its row said."""

    account: Account
    msg_id: str  # the message's client_msg_id, which is also its canary
    sender: object = None  # the virtual user that sent it
    types: list[str] = field(default_factory=list)
    run_ids: set[str] = field(default_factory=set)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: bool = False
    close_code: int | None = None  # the server closed the socket while the run was read
    closed_with: int | None = None  # the code the server answered our close with
    timed_out: bool = False
    interrupted: bool = False
    reply: str | None = None
    stale: int = 0  # frames of this user's earlier unfinished (or forgotten) runs, set aside
    shared: int = 0  # frames of other virtual users' runs on this account, set aside
    late: int = 0  # this run's events after its agent_completed
    recorded: str | None = None  # the outcome its row said (``ok`` or a kind); None: not written
    recorded_code: int | None = None
    # timings: when the message was sent (epoch s), to its first event and to the end (ms)
    sent_at: float = 0.0
    ttfe_ms: float | None = None
    response_ms: float = 0.0

    def __post_init__(self) -> None:
        self.account.begin(self)

    @property
    def canary(self) -> str:
        return self.msg_id

    @property
    def user_id(self) -> str:
        return self.account.user_id

    def observe(self, raw: str | bytes) -> RunCheck:
        """Check one frame read on this run's socket.

        Returns the run it was charged to: this one, or an earlier completed run of the
        same virtual user whose row is written (then see :meth:`outcome_change`).
        """
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        account = self.account
        canaries = set(_CANARY.findall(text))
        foreign = sorted(c for c in canaries if not account.knows(c))
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.foreign.extend(foreign)
            self.errors.append("unparseable frame" if event is None else "frame is not an object")
            return self
        owner_id, msg_id, run_id = (event.get(k) for k in ("user_id", "client_msg_id", "run_id"))
        if owner_id is not None and str(owner_id) != account.user_id:
            foreign.append(f"user_id={owner_id}")
        if msg_id is not None and not account.knows(str(msg_id)) and msg_id not in foreign:
            foreign.append(f"client_msg_id={msg_id}")
        if foreign:
            self.foreign.extend(foreign)
            return self
        run = str(run_id) if run_id else None
        owner = account.owner(None if msg_id is None else str(msg_id), canaries, run)
        if owner is not None and run is not None:
            account.learn(run, owner)
        if owner is None and (msg_id is not None or canaries):
            self.stale += 1  # this account's run, too old to be remembered: set aside
            return self
        if owner is None or owner is self:
            self._take(event, text, run)
            return self
        if owner.sender is not self.sender:
            self.shared += 1
            return self
        if not owner.completed:
            self.stale += 1
            return self
        owner.late += 1
        owner._take(event, text, run)
        return owner

    def _take(self, event: dict[str, Any], text: str, run: str | None) -> None:
        kind = str(event.get("type"))
        if kind == "error":
            self.errors.append(str((event.get("data") or {}).get("code", "error")))
            return
        if kind not in GOLDEN_PATH_EVENTS:
            return
        self.types.append(kind)
        if run is not None:
            self.run_ids.add(run)
        mine = self.msg_id in text or event.get("client_msg_id") == self.msg_id
        if kind == "agent_completed" and mine and not self.ended:
            self.completed = True
            self.reply = str((event.get("data") or {}).get("result", ""))

    @property
    def ended(self) -> bool:
        """Gave up on (timed out, interrupted) or already written: a late reply does not
        complete it."""
        return self.completed or self.timed_out or self.interrupted or self.recorded is not None

    @property
    def done(self) -> bool:
        """Stop reading: our reply came, or the run cannot succeed any more."""
        return self.completed or bool(self.errors) or self.close_code is not None

    @property
    def run_close_code(self) -> int | None:
        """The code the run's socket closed with: by the server mid-run, or in answer to ours."""
        return self.close_code if self.close_code is not None else self.closed_with

    @property
    def failure_kind(self) -> str | None:
        if self.foreign:
            return "isolation_violation"
        code = self.close_code if not self.completed else None  # the server ended the run
        if code is None and self.closed_with not in (None, *NORMAL_CLOSES):
            code = self.closed_with  # ... or answered our close with an error
        if code is not None:
            return "ws_close_1011" if code == 1011 else "ws_close_other"
        if self.errors:
            return "protocol_error"
        if not self.completed:
            return "interrupted" if self.interrupted and not self.timed_out else "timeout"
        if any(t not in self.types for t in GOLDEN_PATH_EVENTS):
            return "missing_event"
        if tuple(self.types) != GOLDEN_PATH_EVENTS or len(self.run_ids) != 1:
            return "out_of_order"
        return None

    def detail(self) -> str:
        kind = self.failure_kind
        details = {
            "isolation_violation": f"{len(self.foreign)} foreign marker(s): "
            + ", ".join(self.foreign[:3]),
            "ws_close_1011": f"closed with {self.run_close_code}",
            "ws_close_other": f"closed with {self.run_close_code}",
            "protocol_error": ", ".join(sorted(set(self.errors))),
            "interrupted": f"{len(self.types)} of 5 events before the end of the load",
            "timeout": f"{len(self.types)} of 5 events before the timeout",
            "missing_event": "missing "
            + ", ".join(t for t in GOLDEN_PATH_EVENTS if t not in self.types),
            "out_of_order": " -> ".join(self.types)
            + (f" ({len(self.run_ids)} run ids)" if len(self.run_ids) != 1 else "")
            + (f"; {self.late} after agent_completed" if self.late else ""),
        }
        return details.get(kind or "", "")

    def failure(self) -> GoldenPathFailure | None:
        kind = self.failure_kind
        return None if kind is None else GoldenPathFailure(kind, self.detail())

    def record(self) -> str:
        """Note the outcome its row says now; returns it (``ok`` or a kind)."""
        self.recorded = self.failure_kind or OK
        self.recorded_code = self.run_close_code
        return self.recorded

    def outcome_change(self) -> tuple[str, str] | None:
        """(prior, new) when frames read after its row was written changed its outcome."""
        if self.recorded is None:
            return None
        now = self.failure_kind
        return None if now is None or now == self.recorded else (self.recorded, now)


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
