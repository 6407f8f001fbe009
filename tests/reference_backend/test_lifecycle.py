"""Startup, readiness and shutdown: the close codes a client sees."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtests.embedded import EmbeddedBackend
from reference_backend.config import Settings
from reference_backend.main import create_app
from reference_backend.ws_protocol import extract_token, offered_subprotocols
from tests.utils.golden import jwt_subprotocols, login, ws_url
from tests.utils.servers import PASSWORD


def test_socket_before_startup_gets_1013() -> None:
    from fastapi.testclient import TestClient

    app = create_app(Settings(database_url="sqlite://"))
    client = TestClient(app)  # no `with`: the lifespan has not run, nothing is built
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws") as ws:
        ws.receive_json()
    assert info.value.code == 1013
    assert client.get("/ready").status_code == 503


def test_in_process_lifespan_closes_sockets_with_1001() -> None:
    from fastapi.testclient import TestClient

    from reference_backend.security import hash_password

    app = create_app(Settings(database_url="sqlite://"))
    with TestClient(app) as client:
        app.state.runtime.db.add_users([("alice", hash_password("pw", log2_n=4))])
        token = client.post("/api/auth/login", json={"username": "alice", "password": "pw"}).json()
        ws_cm = client.websocket_connect(
            "/ws", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        ws = ws_cm.__enter__()
        service = app.state.runtime.service
        assert service.factory_metrics()["websocket_connections"] == 1
        # What the lifespan does on exit, run on the app's own loop:
        closed = client.portal.call(lambda: service.drain(grace_s=1))  # type: ignore[union-attr]
        assert closed == 1
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1001
        ws_cm.__exit__(None, None, None)
    assert service.factory_metrics()["active_engines_count"] == 0


class _Scope:
    def __init__(self, subprotocols: list[str], headers: dict[str, str], query: str = "") -> None:
        self.scope = {"subprotocols": subprotocols}
        self.headers = headers
        from starlette.datastructures import QueryParams

        self.query_params = QueryParams(query)


def test_token_lookup_order_and_comma_separated_subprotocols() -> None:
    proto = jwt_subprotocols("tok-a")
    # one list item holding the whole comma-separated header value
    ws = _Scope([", ".join(proto)], {"authorization": "Bearer tok-b"}, "token=tok-c")
    assert offered_subprotocols(ws) == proto  # type: ignore[arg-type]
    assert extract_token(ws) == ("tok-a", "jwt-auth")  # type: ignore[arg-type]
    assert extract_token(_Scope([], {"authorization": "Bearer tok-b"}, "token=tok-c")) == (
        "tok-b",
        None,
    )  # type: ignore[arg-type]
    assert extract_token(_Scope([], {}, "token=tok-c")) == ("tok-c", None)  # type: ignore[arg-type]
    assert extract_token(_Scope(["jwt-auth", "jwt.!!!"], {}))[0] == ""  # type: ignore[arg-type]


@pytest.fixture
def fresh_backend() -> Iterator[EmbeddedBackend]:
    """A canonical backend of its own, for tests that stop it."""
    with EmbeddedBackend(factory="canonical", users=3, password=PASSWORD) as backend:
        yield backend


def test_sigterm_closes_open_sockets_with_1001(fresh_backend: EmbeddedBackend) -> None:
    async def go() -> list[int | None]:
        async with httpx.AsyncClient(base_url=fresh_backend.url) as http:
            tokens = [await login(http, f"load{i}", PASSWORD) for i in range(3)]
        sockets = [
            await connect(ws_url(fresh_backend.url), subprotocols=jwt_subprotocols(t))  # type: ignore[arg-type]
            for t in tokens
        ]
        await sockets[0].send(json.dumps({"type": "user_message", "message": "before"}))
        for _ in range(5):
            await sockets[0].recv()
        stopper = threading.Thread(target=fresh_backend.terminate)
        stopper.start()
        codes = []
        for ws in sockets:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 15)
            codes.append(ws.close_code)
        await asyncio.to_thread(stopper.join, 20)
        return codes

    assert asyncio.run(go()) == [1001, 1001, 1001]
    # uvicorn re-raises the signal once its graceful shutdown is done
    assert fresh_backend.process is not None and fresh_backend.process.returncode in (0, -15)
    log = fresh_backend.tail(5000)
    assert "Application shutdown complete" in log and "Traceback" not in log


def test_audit_trail_records_sockets_and_engines_per_user(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from reference_backend.db import open_database
    from reference_backend.security import hash_password

    url = f"sqlite:///{tmp_path / 'app.db'}"
    db = open_database(url)
    db.add_users([("alice", hash_password("pw", log2_n=4))])
    user_id = db.get_user("alice").user_id  # type: ignore[union-attr]
    db.close()
    with TestClient(create_app(Settings(database_url=url))) as client:
        token = client.post("/api/auth/login", json={"username": "alice", "password": "pw"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with client.websocket_connect("/ws", headers=headers) as ws:
            ws.send_json({"type": "user_message", "message": "audit me"})
            run_id = [ws.receive_json() for _ in range(5)][0]["run_id"]
    db = open_database(url)  # the lifespan flushed the trail on the way out
    actions = [(row[2], row[3]) for row in db.audit_for(user_id)]
    db.close()
    # the socket's connect and disconnect too, as the legacy bridge records them on its path
    assert actions == [
        ("ws_connect", None),
        ("engine_created", run_id),
        ("engine_cleaned", run_id),
        ("ws_disconnect", None),
    ]


async def _open_and_start_runs(backend: EmbeddedBackend, n: int) -> list[ClientConnection]:
    """``n`` users, each with a socket and a run that has started (agent_started seen)."""
    async with httpx.AsyncClient(base_url=backend.url) as http:
        tokens = [await login(http, f"load{i}", PASSWORD) for i in range(n)]
    sockets = [
        await connect(ws_url(backend.url), subprotocols=jwt_subprotocols(t))  # type: ignore[arg-type]
        for t in tokens
    ]
    for ws in sockets:
        await ws.send(json.dumps({"type": "user_message", "message": "in flight"}))
    for ws in sockets:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "agent_started"
    return sockets


async def _until_closed(ws: ClientConnection) -> tuple[list[str], int | None]:
    types = []
    with pytest.raises(ConnectionClosed):
        while True:
            types.append(json.loads(await asyncio.wait_for(ws.recv(), 20))["type"])
    return types, ws.close_code


@pytest.mark.slow
def test_sigterm_lets_short_runs_finish_then_closes_1001_with_no_engine_left() -> None:
    """Runs shorter than the grace complete; then every socket gets 1001."""
    settings = {"agent_think_ms": 500, "shutdown_grace_s": 5}
    with EmbeddedBackend(users=3, password=PASSWORD, settings=settings) as backend:

        async def go() -> list[tuple[list[str], int | None]]:
            sockets = await _open_and_start_runs(backend, 3)
            stopper = threading.Thread(target=backend.terminate)
            stopper.start()
            outcomes = [await _until_closed(ws) for ws in sockets]
            await asyncio.to_thread(stopper.join, 20)
            return outcomes

        outcomes = asyncio.run(go())
        log = backend.tail(5000)
    for types, code in outcomes:
        assert types[-1] == "agent_completed" and code == 1001
    assert re.search(r"3 runs finished, 0 cancelled .* 3 sockets closed with 1001, 0 engines", log)
    assert "Traceback" not in log


@pytest.mark.slow
def test_sigterm_cancels_runs_past_the_grace_and_refuses_new_sockets_meanwhile() -> None:
    """Runs longer than the grace are cancelled at it; new sockets during the drain get 1001."""
    settings = {"agent_think_ms": 30_000, "shutdown_grace_s": 3}
    with EmbeddedBackend(users=3, password=PASSWORD, settings=settings) as backend:

        async def go() -> tuple[list[tuple[list[str], int | None]], int | None, float]:
            sockets = await _open_and_start_runs(backend, 2)
            async with httpx.AsyncClient(base_url=backend.url) as http:
                token = await login(http, "load2", PASSWORD)
                stopper = threading.Thread(target=backend.terminate)
                started = time.monotonic()
                stopper.start()
                deadline = time.monotonic() + 3
                while (await http.get("/ready")).status_code == 200:  # the drain has begun
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)
            late = await connect(ws_url(backend.url), subprotocols=jwt_subprotocols(token))  # type: ignore[arg-type]
            _, late_code = await _until_closed(late)
            outcomes = [await _until_closed(ws) for ws in sockets]
            took = time.monotonic() - started
            await asyncio.to_thread(stopper.join, 20)
            return outcomes, late_code, took

        outcomes, late_code, took = asyncio.run(go())
        log = backend.tail(5000)
    assert late_code == 1001  # "going away", not 1011 and not a bare refusal
    for types, code in outcomes:
        assert "agent_completed" not in types and code == 1001
    assert took < 15  # the grace (3 s) bounded the 30 s runs
    assert re.search(r"0 runs finished, 2 cancelled .* 2 sockets closed with 1001, 0 engines", log)
    assert "Traceback" not in log
