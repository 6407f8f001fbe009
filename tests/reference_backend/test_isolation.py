"""No user receives another user's run: reconnect races, several sockets, the bridge's guard."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from loadtests.embedded import EmbeddedBackend
from reference_backend.config import Settings
from reference_backend.events import agent_event
from reference_backend.main import create_app
from tests.utils.golden import CANARY, jwt_subprotocols, login, metric, token_subject, ws_url
from tests.utils.redis_server import RedisServer
from tests.utils.servers import PASSWORD


async def _drain(ws: ClientConnection, seen: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """Collect every frame a socket gets until ``stop`` (or the socket closes)."""
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
        except TimeoutError:
            continue
        except Exception:
            return
        seen.append(json.loads(raw))


@pytest.fixture(params=["one process", "two workers and Redis"])
def churn_backend(
    request: pytest.FixtureRequest, canonical_backend: EmbeddedBackend
) -> Iterator[EmbeddedBackend]:
    if request.param == "one process":
        yield canonical_backend
        return
    with (
        RedisServer() as redis,
        EmbeddedBackend(
            users=60,
            password=PASSWORD,
            settings={"redis_url": redis.url},
            workers=2,
        ) as backend,
    ):
        yield backend


def _all_engines_released(base: str) -> bool:
    """Every worker reports no engine: six answers in a row, on fresh connections."""
    with httpx.Client(base_url=base, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        return all(
            http.get("/api/factory/metrics").json()["active_engines_count"] == 0 for _ in range(6)
        )


def test_reconnect_churn_and_second_sockets_never_cross_users(
    churn_backend: EmbeddedBackend,
) -> None:
    """Alice reconnects 40 times, leaving runs behind, while Bob reads on two sockets (with
    two workers and Redis, on whichever workers they land)."""
    backend = churn_backend
    refused_before = metric(backend.url, "goldenpath_cross_user_events_refused_total")

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str], set[str]]:
        async with httpx.AsyncClient(base_url=backend.url) as http:
            alice_token = await login(http, "load20", PASSWORD)
            bob_token = await login(http, "load21", PASSWORD)
        alice, bob = token_subject(alice_token), token_subject(bob_token)
        alice_canaries: set[str] = set()
        bob_canaries: set[str] = set()
        bob_seen: list[dict[str, Any]] = []
        alice_seen: list[dict[str, Any]] = []
        stop = asyncio.Event()
        url = ws_url(backend.url)
        async with (
            connect(url, subprotocols=jwt_subprotocols(bob_token)) as bob1,  # type: ignore[arg-type]
            connect(url, subprotocols=jwt_subprotocols(bob_token)) as bob2,  # type: ignore[arg-type]
            connect(url, subprotocols=jwt_subprotocols(alice_token)) as alice_keep,  # type: ignore[arg-type]
        ):
            readers = [
                asyncio.create_task(_drain(bob1, bob_seen, stop)),
                asyncio.create_task(_drain(bob2, bob_seen, stop)),
                asyncio.create_task(_drain(alice_keep, alice_seen, stop)),
            ]

            async def bob_sends() -> None:
                for _ in range(20):
                    canary = f"CANARY-bob-{uuid.uuid4().hex[:8]}"
                    bob_canaries.add(canary)
                    await bob1.send(json.dumps({"type": "user_message", "message": canary}))
                    await asyncio.sleep(0.02)

            async def alice_churns() -> None:
                for _ in range(40):
                    canary = f"CANARY-alice-{uuid.uuid4().hex[:8]}"
                    alice_canaries.add(canary)
                    async with connect(url, subprotocols=jwt_subprotocols(alice_token)) as ws:  # type: ignore[arg-type]
                        await ws.send(json.dumps({"type": "user_message", "message": canary}))
                    # closed at once: the run outlives the socket that started it

            await asyncio.gather(bob_sends(), alice_churns())
            # Let every run finish and its events land.
            deadline = time.monotonic() + 15
            while not _all_engines_released(backend.url):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*readers)
        assert {e.get("user_id") for e in bob_seen} <= {bob, None}
        assert {e.get("user_id") for e in alice_seen} <= {alice, None}
        return bob_seen, alice_seen, bob_canaries, alice_canaries

    bob_seen, alice_seen, bob_canaries, alice_canaries = asyncio.run(go())
    bob_text, alice_text = json.dumps(bob_seen), json.dumps(alice_seen)
    assert set(CANARY.findall(bob_text)) == bob_canaries  # each of Bob's runs reached him ...
    assert not set(CANARY.findall(bob_text)) & alice_canaries  # ... and none of Alice's
    # Alice's kept socket gets her abandoned runs' events, and never Bob's.
    assert set(CANARY.findall(alice_text)) <= alice_canaries
    assert set(CANARY.findall(alice_text))  # some of them did arrive there
    # Nothing was even attempted across users: the bridge's guard never fired.
    assert metric(backend.url, "goldenpath_cross_user_events_refused_total") == refused_before
    metrics = httpx.get(f"{backend.url}/api/factory/metrics").json()
    assert metrics["total_engines_created"] == metrics["total_engines_cleaned"]


def test_the_bridge_refuses_and_counts_an_event_naming_another_user() -> None:
    """Defence in depth: even a buggy engine cannot push Alice's event to Bob."""
    from fastapi.testclient import TestClient

    from reference_backend.security import hash_password

    app = create_app(Settings(database_url="sqlite://"))
    with TestClient(app) as client:
        runtime = app.state.runtime
        runtime.db.add_users([("bob", hash_password("pw", log2_n=4))])
        token = client.post("/api/auth/login", json={"username": "bob", "password": "pw"}).json()
        bob = token_subject(token["access_token"])
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        with client.websocket_connect("/ws", headers=headers) as ws:
            bridge = runtime.service.bridge

            def event(owner: str, text: str) -> dict[str, Any]:
                return agent_event(
                    "agent_thinking",
                    user_id=owner,
                    run_id="run-x",
                    thread_id="thread-x",
                    agent_name="test",
                    data={"text": text},
                )

            async def send_both() -> tuple[int, int]:
                foreign = await bridge.send_to_user(bob, event("someone-else", "alice's"))
                own = await bridge.send_to_user(bob, event(bob, "bob's"))
                return foreign, own

            assert client.portal.call(send_both) == (0, 1)  # type: ignore[union-attr]
            assert ws.receive_json()["data"]["text"] == "bob's"  # the foreign one never came
        scrape = client.get("/metrics").text
    assert "goldenpath_cross_user_events_refused_total 1.0" in scrape
