"""Clients faster than the agent: per-socket back-pressure, never unbounded work or memory."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from loadtests.embedded import EmbeddedBackend
from tests.utils.golden import GOLDEN, golden_path, jwt_subprotocols, login, metric, ws_url
from tests.utils.servers import PASSWORD

INFLIGHT = 2


@pytest.fixture(scope="module")
def flood_backend() -> Iterator[EmbeddedBackend]:
    """Two runs in flight per socket, a 50 ms model, and room for 8 engines per user."""
    settings = {
        "ws_max_inflight_runs": INFLIGHT,
        "max_engines_per_user": 8,
        "agent_think_ms": 50,
        "ws_max_queue": 4,
    }
    with EmbeddedBackend(users=4, password=PASSWORD, settings=settings) as backend:
        yield backend


async def _token(backend: EmbeddedBackend, username: str) -> str:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        return await login(http, username, PASSWORD)


def test_a_burst_runs_at_most_n_at_a_time_and_every_message_is_answered(
    flood_backend: EmbeddedBackend,
) -> None:
    """40 messages sent at once: all 40 answered, in order, never more than 2 in flight."""
    backend = flood_backend
    before = metric(backend.url, "goldenpath_ws_backpressure_total")

    async def flood() -> tuple[int, int, list[str]]:
        token = await _token(backend, "load0")
        async with connect(ws_url(backend.url), subprotocols=jwt_subprotocols(token)) as ws:  # type: ignore[arg-type]
            for i in range(40):
                await ws.send(json.dumps({"type": "user_message", "message": f"m{i}"}))
            in_flight, peak, completed, errors = set(), 0, 0, []
            deadline = time.monotonic() + 30
            while completed < 40:
                event = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                kind = event["type"]
                if kind == "agent_started":
                    in_flight.add(event["run_id"])
                    peak = max(peak, len(in_flight))
                elif kind == "agent_completed":
                    in_flight.discard(event["run_id"])
                    completed += 1
                elif kind == "error":
                    errors.append(event["data"]["code"])
            return completed, peak, errors

    async def bystander() -> list[str]:
        # Another user at the same time: served as usual.
        await asyncio.sleep(0.1)
        out = await golden_path(backend.url, "load1", PASSWORD, timeout_s=10)
        return out.types

    async def both() -> tuple[tuple[int, int, list[str]], list[str]]:
        return await asyncio.gather(flood(), bystander())

    (completed, peak, errors), other = asyncio.run(both())
    assert completed == 40
    assert errors == []  # no engine_limit refusals: the socket waited instead
    assert peak == INFLIGHT
    assert other == GOLDEN
    assert metric(backend.url, "goldenpath_ws_backpressure_total") > before


def test_a_client_that_never_waits_is_held_back_by_tcp_not_buffered_by_the_server() -> None:
    """With a 3 s model and one run per socket, the sender's sends block within ~12 MB."""
    settings = {"ws_max_inflight_runs": 1, "agent_think_ms": 3000, "ws_max_queue": 4}
    frame = json.dumps({"type": "user_message", "message": "x" * 60_000})  # ~60 KB each
    with EmbeddedBackend(users=1, password=PASSWORD, settings=settings) as backend:

        async def flood() -> int:
            token = await _token(backend, "load0")
            ws = await connect(
                ws_url(backend.url),
                subprotocols=jwt_subprotocols(token),  # type: ignore[arg-type]
                compression=None,  # deflate would shrink the frames to nothing
            )
            try:
                for sent in range(1000):  # 60 MB if nothing pushed back
                    try:
                        await asyncio.wait_for(ws.send(frame), timeout=2)
                    except TimeoutError:
                        return sent
                return 1000
            finally:
                ws.transport.abort()

        sent = asyncio.run(flood())
        # What the client got out before blocking sits in kernel socket buffers and
        # uvicorn's small queue; without back-pressure the server would read all
        # 1000 frames and hold 1000 runs (60 MB of messages).
        assert sent < 200, f"{sent} frames of 60 KB taken before the sender was held back"
        metrics = httpx.get(f"{backend.url}/api/factory/metrics").json()
        assert metrics["in_flight_runs"] <= 1
        # The abandoned socket's run ends and its engine is released.
        deadline = time.monotonic() + 20
        while metrics["active_engines_count"] or metrics["websocket_connections"]:
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
            metrics = httpx.get(f"{backend.url}/api/factory/metrics").json()
