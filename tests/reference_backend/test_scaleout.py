"""Scale-out: ``--workers 2`` with a real Redis (``GOLDENPATH_REDIS_URL``).

Runs started over HTTP reach the user's socket whatever worker served them; two
sockets of one user on two workers both get every event; the failed-login limits
are shared; SIGTERM drains every worker's sockets with 1001; a bad or absent
Redis is one line and exit 2; Redis stopping mid-run is a 503 and an error event,
and the backend recovers when it is back. Every worker tells which process it is
(``x-goldenpath-worker``), so the tests know the work was spread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtests.embedded import EmbeddedBackend
from loadtests.wsclient import jwt_subprotocols, ws_url
from tests.utils.golden import concurrent_load, login
from tests.utils.redis_server import RedisServer
from tests.utils.servers import PASSWORD

GOLDEN = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]


@contextlib.contextmanager
def two_workers(redis: RedisServer, **settings: object) -> Iterator[EmbeddedBackend]:
    """The backend with two uvicorn workers; a failing test shows the backend's log."""
    with EmbeddedBackend(
        users=60,
        password=PASSWORD,
        settings={"redis_url": redis.url, **settings},
        workers=2,
    ) as b:
        try:
            yield b
        except BaseException:
            print(f"--- the backend's log, last 20,000 characters ---\n{b.tail(20_000)}")
            raise


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def backend(redis: RedisServer) -> Iterator[EmbeddedBackend]:
    with two_workers(redis, login_max_failures_per_user=4) as b:
        yield b


def fresh(base: str) -> httpx.Client:
    """A client that opens a new connection per request, so the workers share the requests."""
    return httpx.Client(base_url=base, limits=httpx.Limits(max_keepalive_connections=0))


async def socket_on(
    base: str, token: str, worker: str | None = None, exclude: str | None = None
) -> tuple[ClientConnection, str]:
    """A socket, and the worker it landed on (another until it differs from ``exclude``)."""
    for _ in range(40):
        ws = await connect(ws_url(base), subprotocols=jwt_subprotocols(token))  # type: ignore[arg-type]
        assert ws.response is not None
        pid = ws.response.headers["x-goldenpath-worker"]
        if (worker is None or pid == worker) and pid != exclude:
            return ws, pid
        await ws.close()
    raise AssertionError("40 sockets all landed on one worker")


def test_the_embedded_backend_returns_once_every_worker_has_started() -> None:
    """Not when the first worker answers /ready: a second one still starting would fail
    on its own when Redis went away, and uvicorn would then stop the whole server."""
    with RedisServer() as redis, two_workers(redis) as b:
        assert b.tail(10**6).count("Application startup complete.") == 2, b.tail()
        redis.stop()
        statuses: list[int] = []
        with fresh(b.url) as http:  # the workers see Redis gone, and say so
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and statuses[-4:] != [503] * 4:
                statuses.append(http.get("/ready").status_code)
                time.sleep(0.2)
        assert statuses[-4:] == [503] * 4, statuses
        assert b.process is not None and b.process.poll() is None, b.tail()


async def read_until_completed(
    ws: ClientConnection, msg_ids: set[str], timeout_s: float = 10
) -> list[dict[str, Any]]:
    """Events until every message in ``msg_ids`` has its agent_completed."""
    events, done = [], set()
    deadline = time.monotonic() + timeout_s
    while done != msg_ids:
        left = deadline - time.monotonic()
        assert left > 0, f"missing replies for {msg_ids - done}"
        event = json.loads(await asyncio.wait_for(ws.recv(), left))
        events.append(event)
        if event.get("type") == "agent_completed":
            done.add(event["client_msg_id"])
    return events


@pytest.mark.slow
def test_http_runs_reach_the_socket_whatever_worker_served_them(backend: EmbeddedBackend) -> None:
    async def go() -> tuple[set[str], set[str], list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=backend.url) as http:
            token = await login(http, "load1", PASSWORD)
        ws, _ = await socket_on(backend.url, token)
        served, msg_ids = set(), set()
        with fresh(backend.url) as http:
            # Which worker accepts a new connection is the kernel's choice: on a busy machine
            # one may take 20 in a row. Send at least 20 runs, until both workers have started
            # some (at most 200).
            for i in range(200):
                if i >= 20 and len(served) == 2:
                    break
                msg_id = f"http-{i}-{uuid.uuid4().hex[:6]}"
                body = {"message": f"run {i}", "client_msg_id": msg_id}
                auth = {"Authorization": f"Bearer {token}"}
                resp = http.post("/api/chat/message", json=body, headers=auth)
                assert resp.status_code == 202, resp.text
                served.add(resp.headers["x-goldenpath-worker"])
                msg_ids.add(msg_id)
        events = await read_until_completed(ws, msg_ids)
        await ws.close()
        return served, msg_ids, events

    served, msg_ids, events = asyncio.run(go())
    assert len(served) == 2, served  # both workers started runs ...
    per_run: dict[str, list[str]] = {}
    for e in events:
        per_run.setdefault(e["client_msg_id"], []).append(e["type"])
    assert set(per_run) == msg_ids and all(t == GOLDEN for t in per_run.values()), (
        per_run
    )  # ... all here


@pytest.mark.slow
def test_two_sockets_of_one_user_on_two_workers_both_get_every_event(
    backend: EmbeddedBackend,
) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, str]:
        async with httpx.AsyncClient(base_url=backend.url) as http:
            token = await login(http, "load2", PASSWORD)
        a, worker_a = await socket_on(backend.url, token)
        b, worker_b = await socket_on(backend.url, token, exclude=worker_a)
        msg_ids = set()
        for i in range(5):
            msg_id = f"ws-{i}-{uuid.uuid4().hex[:6]}"
            msg_ids.add(msg_id)
            await a.send(
                json.dumps({"type": "user_message", "message": f"m{i}", "client_msg_id": msg_id})
            )
        got_a = await read_until_completed(a, msg_ids)
        got_b = await read_until_completed(b, msg_ids)
        await a.close()
        await b.close()
        return got_a, got_b, worker_a, worker_b

    got_a, got_b, worker_a, worker_b = asyncio.run(go())
    assert worker_a != worker_b
    key = lambda e: (e["client_msg_id"], e["type"])  # noqa: E731
    assert sorted(map(key, got_a)) == sorted(map(key, got_b))
    assert len(got_a) == 25
    # each socket numbers its own frames
    assert [e["seq"] for e in got_a] == list(range(1, 26))
    assert [e["seq"] for e in got_b] == list(range(1, 26))


@pytest.mark.slow
def test_failed_login_limits_are_shared_by_the_workers(backend: EmbeddedBackend) -> None:
    served: set[str] = set()
    statuses = []
    with fresh(backend.url) as http:
        for _ in range(8):
            resp = http.post("/api/auth/login", json={"username": "load59", "password": "wrong"})
            statuses.append(resp.status_code)
            served.add(resp.headers["x-goldenpath-worker"])
    assert len(served) == 2, served  # the attempts went to both workers ...
    # ... and the fifth is refused: 4 failures in all, not 4 per worker
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}, statuses


@pytest.mark.slow
def test_fifty_users_on_two_workers_are_isolated(backend: EmbeddedBackend) -> None:
    stats = asyncio.run(concurrent_load(backend.url, users=50, password=PASSWORD, duration_s=10))
    assert stats.iterations > 100, stats
    assert stats.isolation_violations == 0 and stats.close_codes[1011] == 0, stats
    assert stats.timeouts == 0 and not stats.errors, stats
    assert stats.completed == stats.iterations, stats
    text = httpx.get(f"{backend.url}/metrics").text
    assert "goldenpath_cross_user_events_refused_total 0.0" in text


@pytest.mark.slow
def test_sigterm_drains_every_workers_sockets_with_1001(redis: RedisServer) -> None:
    with two_workers(redis) as b:

        async def go() -> list[int | None]:
            async with httpx.AsyncClient(base_url=b.url) as http:
                token = await login(http, "load4", PASSWORD)
            one, w1 = await socket_on(b.url, token)
            two, _ = await socket_on(b.url, token, exclude=w1)
            assert b.process is not None
            await asyncio.to_thread(b.process.send_signal, 15)  # SIGTERM to the supervisor
            codes = []
            for ws in (one, two):
                try:
                    await asyncio.wait_for(ws.recv(), 15)
                except ConnectionClosed as exc:
                    codes.append(exc.rcvd.code if exc.rcvd else None)
            return codes

        codes = asyncio.run(go())
        assert b.process is not None and b.process.wait(timeout=30) == 0
    assert codes == [1001, 1001], codes


def test_a_bad_redis_url_exits_2_with_one_line(tmp_path: Path) -> None:
    for url, message in (
        ("http://127.0.0.1:6379", "expected redis://host:port"),
        ("redis://127.0.0.1:1/0", "cannot reach Redis at redis://127.0.0.1:1/0"),
    ):
        env = dict(os.environ, GOLDENPATH_REDIS_URL=url,
                   GOLDENPATH_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "reference_backend", "serve", "--port", "0"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("INFO")]
        assert len(lines) == 1 and message in lines[0], done.stderr


@pytest.mark.slow
def test_redis_stopping_mid_run_is_a_503_and_an_error_event_then_the_backend_recovers() -> None:
    with RedisServer() as redis, two_workers(redis, agent_think_ms=1500) as b:

        async def go() -> tuple[list[str], list[int], list[dict[str, Any]]]:
            async with httpx.AsyncClient(base_url=b.url) as http:
                token = await login(http, "load5", PASSWORD)
            ws, _ = await socket_on(b.url, token)
            await ws.send(
                json.dumps({"type": "user_message", "message": "in flight", "client_msg_id": "m1"})
            )
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            redis.stop()  # mid-run: the model is thinking
            seen = [first["type"]]
            event = json.loads(await asyncio.wait_for(ws.recv(), 15))
            seen.append(event["type"] if event["type"] != "error" else event["data"]["code"])
            statuses: list[int] = []
            with fresh(b.url) as http:  # both workers say so: four 503s in a row
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and statuses[-4:] != [503] * 4:
                    statuses.append(http.get("/ready").status_code)
                    await asyncio.sleep(0.2)
            redis.start()  # back, on the same port
            await ws.close()
            recovered: list[int] = []
            deadline = time.monotonic() + 30
            with fresh(b.url) as http:
                while time.monotonic() < deadline:
                    recovered = [http.get("/ready").status_code for _ in range(4)]
                    if recovered == [200] * 4:
                        break
                    await asyncio.sleep(0.3)
            # and a run works again, end to end
            async with httpx.AsyncClient(base_url=b.url) as http:
                token = await login(http, "load5", PASSWORD)
            ws, _ = await socket_on(b.url, token)
            await ws.send(
                json.dumps({"type": "user_message", "message": "after", "client_msg_id": "m2"})
            )
            after = await read_until_completed(ws, {"m2"}, timeout_s=15)
            await ws.close()
            with fresh(b.url) as http:  # each worker says its listener came back once
                reports = [http.get("/api/factory/metrics").json() for _ in range(4)]
            assert {r["redis"]["listener_reconnects"] for r in reports} == {1}, reports
            assert all(r["redis"]["healthy"] for r in reports)
            return seen, statuses + recovered, after

        seen, statuses, after = asyncio.run(go())
    assert seen == ["agent_started", "broker_unavailable"], seen  # not a silent 1011
    assert 503 in statuses and statuses[-4:] == [200] * 4, statuses
    assert [e["type"] for e in after] == GOLDEN
