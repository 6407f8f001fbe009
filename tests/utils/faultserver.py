"""A golden-path server that injects known defects on a fixed schedule and keeps its own count.

It speaks the documented API (``POST /api/auth/login``, ``WS /ws`` with the
``jwt-auth`` subprotocols, the five events echoing ``client_msg_id``,
``/health``, ``/ready``, ``/api/factory/metrics``), so ``goldenpath run --host``
drives it like any deployment. Every other run gets the next defect in turn
(all of ``DEFECTS``, or those given); the rest run clean. ``GET /truth``
lists, per defect, the ``client_msg_id`` of every run it was injected into:
the ground truth the harness's counts are checked against.

Each run has at most one defect, and the run a user makes right after a late
leak gets none (a persistent socket reads that leak during that run), so each
defect maps to exactly one failed run in the harness. The defects, and the
failure kind the harness must give the run that suffers them:

=================  ====================  =====================================================
defect             harness kind          what the victim's socket gets
=================  ====================  =====================================================
leak_in_flight     isolation_violation   another user's agent_started (its canary), mid-run
late_leak          isolation_violation   another user's agent_completed right after its own
foreign_user_id    isolation_violation   an agent_thinking under another user's user_id
leak_no_canary     isolation_violation   another run's tool_completed under its own user_id:
                                         only the echoed client_msg_id gives it away
close_1011         ws_close_1011         two events, then a close with 1011
out_of_order       out_of_order          agent_thinking and tool_executing swapped
duplicate          out_of_order          agent_thinking twice
missing            missing_event         no tool_executing
error_event        protocol_error        agent_started, then an ``error`` event
hang               timeout               agent_started, then nothing
=================  ====================  =====================================================

The leaks hit another user's run in flight (or just completed): the run that
starts the leak is clean, and the victim is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

EVENTS = ("agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed")
EXPECTED_KIND = {
    "leak_in_flight": "isolation_violation",
    "late_leak": "isolation_violation",
    "foreign_user_id": "isolation_violation",
    "leak_no_canary": "isolation_violation",
    "close_1011": "ws_close_1011",
    "out_of_order": "out_of_order",
    "duplicate": "out_of_order",
    "missing": "missing_event",
    "error_event": "protocol_error",
    "hang": "timeout",
}
DEFECTS = tuple(EXPECTED_KIND)
VICTIM_DEFECTS = ("leak_in_flight", "foreign_user_id", "leak_no_canary")
STEP_S = 0.003  # between a run's events, so runs overlap and leaks find victims
_CLOSE = object()


@dataclass(eq=False)
class Conn:
    ws: WebSocket
    user_id: str
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def send(self, event: dict[str, Any], on_sent: Callable[[], None] | None = None) -> None:
        """Queue a frame: one writer per socket, so frames go out in the order queued.
        ``on_sent`` is called once the frame is written (not if the socket closes first)."""
        if not self.closed:
            self.queue.put_nowait((json.dumps(event), on_sent))

    def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait((_CLOSE, code))


@dataclass(eq=False)
class Run:
    conn: Conn
    msg_id: str
    message: str
    run_id: str = field(default_factory=lambda: f"run-{uuid.uuid4().hex[:12]}")
    defect: str | None = None  # the defect this run suffers (injected or as a victim)
    protected: bool = False  # gets no defect: it may read the previous run's late leak
    completed_sent: bool = False

    def event(self, kind: str, **over: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if kind == "agent_started":
            data = {"message": self.message, "client_msg_id": self.msg_id}
        elif kind == "agent_completed":
            data = {"result": f'You said: "{self.message}"', "client_msg_id": self.msg_id}
        event = {
            "type": kind,
            "user_id": self.conn.user_id,
            "run_id": self.run_id,
            "thread_id": "t-" + self.run_id,
            "client_msg_id": self.msg_id,
            "agent_name": "fault",
            "seq": None,
            "ts": time.time(),
            "data": data,
        }
        if kind.startswith("tool_"):
            event["tool_name"] = "calculator"
        event.update(over)
        return event


class FaultServer:
    """The app and its ground truth."""

    def __init__(
        self, defects: tuple[str, ...] = DEFECTS, *, busy_after_leak_s: float = 0.0
    ) -> None:
        self.defects = defects
        # A starved server: its loop is busy this long right after it writes a late leak,
        # so the victim's close is answered that late (the end of the load finds users
        # waiting for it, with the leak already on their socket).
        self.busy_after_leak_s = busy_after_leak_s
        self.period = 2 * len(defects)  # every other run gets the next defect in turn
        self.counter = itertools.count()
        self.injected: dict[str, list[str]] = defaultdict(list)
        self.in_flight: dict[str, Run] = {}  # run_id -> run not yet completed
        self.recent: deque[Run] = deque(maxlen=64)  # completed runs: late-leak material
        self.protect_next: set[str] = set()  # users whose next run must stay clean
        self.runs = 0
        self.seen: list[str] = []  # every message's client_msg_id, in arrival order
        self.app = Starlette(
            routes=[
                Route("/api/auth/login", self.login, methods=["POST"]),
                Route("/health", self.health),
                Route("/ready", self.ready),
                Route("/api/factory/metrics", self.metrics),
                Route("/truth", self.truth),
                WebSocketRoute("/ws", self.socket),
            ]
        )

    # --- HTTP -----------------------------------------------------------------------

    async def login(self, request: Request) -> JSONResponse:
        body = await request.json()
        claims = json.dumps({"sub": f"user-{body.get('username')}"}).encode()
        payload = base64.urlsafe_b64encode(claims).decode().rstrip("=")
        token = f"e30.{payload}.fault"
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ready", "factory_mode": "fault"})

    async def metrics(self, request: Request) -> JSONResponse:
        return JSONResponse({"active_engines_count": 0})

    async def truth(self, request: Request) -> JSONResponse:
        return JSONResponse({"runs": self.runs, "seen": self.seen, "injected": dict(self.injected)})

    # --- the socket ---------------------------------------------------------------------

    @staticmethod
    def _user(ws: WebSocket) -> str | None:
        for proto in ws.scope.get("subprotocols", []):
            if proto.startswith("jwt."):
                raw = proto[4:]
                token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
                payload = token.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                return str(claims["sub"])
        return None

    async def socket(self, ws: WebSocket) -> None:
        user = self._user(ws)
        if user is None:
            await ws.close(1008)
            return
        await ws.accept(subprotocol="jwt-auth")
        conn = Conn(ws, user)
        writer = asyncio.create_task(self._write(conn))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                frame = json.loads(await ws.receive_text())
                task = asyncio.create_task(self._run(conn, frame))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            conn.closed = True
            for task in [*tasks, writer]:
                task.cancel()
            for run in [r for r in self.in_flight.values() if r.conn is conn]:
                self.in_flight.pop(run.run_id, None)

    async def _write(self, conn: Conn) -> None:
        while True:
            item, then = await conn.queue.get()
            if item is _CLOSE:
                await conn.ws.close(then)
                return
            await conn.ws.send_text(item)
            if then is not None:
                then()
                if self.busy_after_leak_s:
                    time.sleep(self.busy_after_leak_s)  # blocks the loop: nothing is answered

    # --- runs and defects -----------------------------------------------------------------

    def _victim(self, source: Run) -> Run | None:
        """A clean run of another user, in flight and not yet at its agent_completed."""
        for run in self.in_flight.values():
            if run.conn.user_id == source.conn.user_id or run.defect or run.protected:
                continue
            if not run.completed_sent and not run.conn.closed:
                return run
        return None

    def _leak_material(self, victim: Run) -> Run | None:
        for run in reversed(self.recent):
            if run.conn.user_id != victim.conn.user_id:
                return run
        return None

    def _record(self, defect: str, run: Run) -> None:
        run.defect = defect
        self.injected[defect].append(run.msg_id)

    async def _run(self, conn: Conn, frame: dict[str, Any]) -> None:
        run = Run(conn, str(frame.get("client_msg_id")), str(frame.get("message")))
        self.runs += 1
        self.seen.append(run.msg_id)
        self.in_flight[run.run_id] = run
        if conn.user_id in self.protect_next:
            self.protect_next.discard(conn.user_id)
            run.protected = True
        n = next(self.counter)
        slot = n % self.period
        defect = self.defects[slot // 2] if slot % 2 == 1 and not run.protected else None
        order = list(EVENTS)
        if defect in VICTIM_DEFECTS:
            victim = self._victim(run)
            if victim is not None:
                self._record(defect, victim)
                self._leak(defect, source=run, victim=victim)
            defect = None  # the source run itself is clean
        elif defect == "late_leak":
            run.defect = defect  # reserved (no victim); recorded when the leak is written
        elif defect is not None:
            self._record(defect, run)
        if defect == "out_of_order":
            order[1], order[2] = order[2], order[1]
        elif defect == "duplicate":
            order.insert(2, "agent_thinking")
        elif defect == "missing":
            order.remove("tool_executing")
        try:
            for i, kind in enumerate(order):
                if i:
                    await asyncio.sleep(STEP_S)
                if defect == "close_1011" and i == 2:
                    conn.close(1011)
                    return
                if defect == "error_event" and i == 1:
                    conn.send(
                        {
                            "type": "error",
                            "run_id": run.run_id,
                            "client_msg_id": run.msg_id,
                            "seq": None,
                            "ts": time.time(),
                            "data": {"code": "agent_failed", "message": "injected"},
                        }
                    )
                    return
                if defect == "hang" and i == 1:
                    await asyncio.Event().wait()  # never: the client gives up on it
                if kind == "agent_completed":
                    run.completed_sent = True
                    self.in_flight.pop(run.run_id, None)
                conn.send(run.event(kind))
                if kind == "agent_completed" and defect == "late_leak":
                    material = self._leak_material(run)
                    if material is not None:  # right behind the run's own reply
                        # Recorded once written: a client that closed its socket after the
                        # reply may close it before the writer gets to the leak, and a leak
                        # never sent is not one the harness could count.
                        conn.send(
                            material.event("agent_completed"),
                            on_sent=functools.partial(self._record, "late_leak", run),
                        )
                        self.protect_next.add(conn.user_id)
            self.recent.append(run)
        finally:
            self.in_flight.pop(run.run_id, None)

    @staticmethod
    def _leak(defect: str, *, source: Run, victim: Run) -> None:
        """Send the victim a frame of ``source``'s run (queued before its own completion)."""
        if defect == "leak_in_flight":
            victim.conn.send(source.event("agent_started"))
        elif defect == "foreign_user_id":  # no canary, no client_msg_id: only the user_id
            victim.conn.send(source.event("agent_thinking", client_msg_id=None))
        else:  # under the victim's own user_id: only the echoed client_msg_id gives it away
            victim.conn.send(source.event("tool_completed", user_id=victim.conn.user_id))


# --- reading the harness's results against the truth ------------------------------------


def final_outcomes(events: pd.DataFrame) -> pd.Series:
    """msg_id -> each run's outcome: its response row, replaced by any late-frame row."""
    responses = events[events["name"] == "response"]
    assert responses["msg_id"].is_unique, "one response row per agent run"
    final = responses.set_index("msg_id")["failure_kind"].astype(object)
    for _, late in events[events["name"] == "late_frame"].sort_values("ts").iterrows():
        assert final.get(late["msg_id"], "ok") in (late["prior_kind"], None), late
        final[late["msg_id"]] = late["failure_kind"]
    return final


def expected_counts(truth: dict[str, Any], final: pd.Series, *, persistent: bool) -> Counter[str]:
    """Failed runs per kind that the injected defects must give, and check each victim's."""
    expected: Counter[str] = Counter()
    for defect, victims in truth["injected"].items():
        kind = EXPECTED_KIND[defect]
        for msg_id in victims:
            outcome = final.get(msg_id)
            if outcome == "interrupted":  # the load ended before the defect could be read
                continue
            expected[kind] += 1
            if defect == "late_leak" and persistent:
                # read by that user's next run (which the server leaves clean), or checked
                # at the close of its socket when it was the last: counted either way
                continue
            assert outcome == kind, (defect, msg_id, outcome)
    return expected
