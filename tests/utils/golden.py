"""A small async golden-path client for backend tests (the Locust users are the real harness)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtests.wsclient import jwt_subprotocols, token_subject, ws_url

GOLDEN = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
CANARY = re.compile(r"CANARY-[A-Za-z0-9-]+")


def metric(base: str, name: str, **labels: str) -> float:
    """One sample of the backend's Prometheus ``/metrics`` (0 when absent)."""
    text = httpx.get(f"{base}/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if labels else ''} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def login(http: httpx.AsyncClient, username: str, password: str) -> str:
    resp = await http.post("/api/auth/login", json={"username": username, "password": password})
    resp.raise_for_status()
    return str(resp.json()["access_token"])


@dataclass
class Outcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    foreign: list[str] = field(default_factory=list)
    timed_out: bool = False
    canary: str = ""  # the message's canary, also sent as its client_msg_id

    @property
    def types(self) -> list[str]:
        return [e.get("type", "") for e in self.events]


async def read_run(
    ws: ClientConnection, *, user_id: str, canary: str, timeout_s: float = 5.0
) -> Outcome:
    """Read frames until this user's ``agent_completed``; note anything foreign."""
    out = Outcome()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                out.timed_out = True
                break
            raw = await asyncio.wait_for(ws.recv(), timeout=left)
            event = json.loads(raw)
            out.events.append(event)
            if event.get("user_id") not in (None, user_id):
                out.foreign.append(f"user_id {event['user_id']}")
            out.foreign += [c for c in CANARY.findall(str(raw)) if c != canary]
            if event.get("type") == "agent_completed" and canary in str(raw):
                break
    except TimeoutError:
        out.timed_out = True
    except ConnectionClosed:
        out.close_code = ws.close_code
    return out


async def golden_path(
    base: str, username: str, password: str, *, message: str = "hello", timeout_s: float = 5.0
) -> Outcome:
    """Login, connect with the jwt subprotocols, send one message, read its run."""
    async with httpx.AsyncClient(base_url=base) as http:
        token = await login(http, username, password)
    canary = f"CANARY-{uuid.uuid4().hex[:12]}"
    async with connect(ws_url(base), subprotocols=jwt_subprotocols(token)) as ws:  # type: ignore[arg-type]
        frame = {"type": "user_message", "message": f"{message} {canary}", "client_msg_id": canary}
        await ws.send(json.dumps(frame))
        out = await read_run(ws, user_id=token_subject(token), canary=canary, timeout_s=timeout_s)
    out.canary = canary
    if out.close_code is None:
        out.close_code = ws.close_code
    return out


@dataclass
class LoadStats:
    iterations: int = 0
    completed: int = 0
    timeouts: int = 0
    isolation_violations: int = 0
    close_codes: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


async def _user_loop(
    base: str, username: str, password: str, deadline: float, stats: LoadStats
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while time.monotonic() < deadline:
            stats.iterations += 1
            try:
                token = await login(http, username, password)
                user_id = token_subject(token)
                canary = f"CANARY-{uuid.uuid4().hex[:12]}"
                frame = json.dumps({"type": "user_message", "message": f"hi {canary}"})
                async with connect(
                    ws_url(base),
                    subprotocols=jwt_subprotocols(token),  # type: ignore[arg-type]
                    open_timeout=10,
                ) as ws:
                    await ws.send(frame)
                    out = await read_run(ws, user_id=user_id, canary=canary, timeout_s=2.0)
                code = out.close_code if out.close_code is not None else ws.close_code
            except (OSError, httpx.HTTPError, ConnectionClosed) as exc:
                stats.errors[type(exc).__name__] += 1
                continue
            if code is not None:
                stats.close_codes[code] += 1
            stats.isolation_violations += len(out.foreign)
            stats.timeouts += out.timed_out
            stats.completed += out.types[-1:] == ["agent_completed"] and not out.foreign


async def concurrent_load(
    base: str,
    *,
    users: int,
    password: str,
    duration_s: float,
    prefix: str = "load",
    stop_when: Any = None,
) -> LoadStats:
    """``users`` users, each login -> connect -> message -> close in a loop, bounded in time."""
    stats = LoadStats()
    deadline = time.monotonic() + duration_s
    tasks = [
        asyncio.create_task(_user_loop(base, f"{prefix}{i}", password, deadline, stats))
        for i in range(users)
    ]
    try:
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.2)
            if stop_when is not None and stop_when(stats):
                break
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def failed_rows(events: Any) -> Any:
    """Rows of an event log that failed a check: interrupted runs (cut by the end of the
    load) and dropped iterations are not failures of the backend."""
    return events[~events["ok"] & ~events["failure_kind"].isin(["interrupted", "dropped"])]
