"""Hostile clients against a real backend: login floods, bad tokens, forged ids, slow readers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from loadtests.embedded import EmbeddedBackend
from reference_backend.config import DEV_SECRET, Settings
from reference_backend.ratelimit import LoginLimiter, SlidingWindowCounter
from tests.utils.golden import GOLDEN, golden_path, jwt_subprotocols, metric, ws_url
from tests.utils.servers import PASSWORD

# A throwaway RSA public key: what an attacker would pass off as an HMAC secret.
RSA_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQD2ko6NDpyq3yGfYNqIvCDNz1Jy
/yG3ju4TK+srHb833+16zuhz4yps9jTOEmiC4gaw8Ch7qReZwZcTQ5Hw/9IYAypB
vil9S6+6MwYRVtDkYi/7JaBKvAng82rMjiy5NGcEh7hFS6r7wdRJ3P5HglbioxhO
GPVPwyzMFjsqbzswQwIDAQAB
-----END PUBLIC KEY-----
"""


@pytest.fixture(scope="module")
def hardened_backend() -> Iterator[EmbeddedBackend]:
    """A backend with a low per-user login limit and a short WebSocket send timeout."""
    settings = {
        "login_max_failures_per_user": 3,
        "login_max_failures_per_address": 1000,
        "login_failure_window_s": 60,
        "ws_send_timeout_s": 0.3,
    }
    with EmbeddedBackend(users=8, password=PASSWORD, settings=settings) as backend:
        yield backend


@pytest.fixture(scope="module")
def address_limited_backend() -> Iterator[EmbeddedBackend]:
    """A backend that allows 5 failed logins per client address per minute."""
    settings = {"login_max_failures_per_user": 1000, "login_max_failures_per_address": 5}
    with EmbeddedBackend(users=2, password=PASSWORD, settings=settings) as backend:
        yield backend


def _post_login(backend: EmbeddedBackend, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{backend.url}/api/auth/login", json={"username": username, "password": password}
    )


# -- 1. login attempt limits ------------------------------------------------------------


def test_sliding_window_counts_failures_and_forgets_them() -> None:
    now = [100.0]
    limiter = LoginLimiter(
        max_failures_per_user=2, max_failures_per_address=3, window_s=10, clock=lambda: now[0]
    )
    limiter.failed("alice", "10.0.0.1")
    now[0] += 4
    assert limiter.retry_after("alice", "10.0.0.1") == 0
    limiter.failed("alice", "10.0.0.1")
    assert limiter.retry_after("alice", "10.0.0.1") == 6  # the first failure leaves at t=110
    assert limiter.retry_after("bob", "10.0.0.2") == 0
    limiter.failed("bob", "10.0.0.1")
    assert limiter.retry_after("carol", "10.0.0.1") == 6  # the address is over its limit too
    limiter.succeeded("alice")
    assert limiter.retry_after("alice", "10.0.0.9") == 0  # success clears the user only
    assert limiter.retry_after("alice", "10.0.0.1") == 6
    now[0] += 6.5
    assert limiter.retry_after("carol", "10.0.0.1") == 0  # window slid past two failures


def test_tracked_keys_are_bounded() -> None:
    counter = SlidingWindowCounter(limit=1, window_s=60, max_keys=100)
    for i in range(1000):
        counter.add(f"user{i}")
    assert len(counter) == 100
    assert counter.retry_after("user999") > 0 and counter.retry_after("user0") == 0


def test_failed_logins_per_user_get_429_before_the_password_is_checked(
    hardened_backend: EmbeddedBackend,
) -> None:
    before = metric(hardened_backend.url, "goldenpath_logins_total", outcome="failed")
    assert [_post_login(hardened_backend, "load0", "nope").status_code for _ in range(3)] == [
        401
    ] * 3
    limited = _post_login(hardened_backend, "load0", "nope")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "password" not in limited.text
    # The right password is refused too: the limit is checked before hashing.
    assert _post_login(hardened_backend, "load0", PASSWORD).status_code == 429
    assert metric(hardened_backend.url, "goldenpath_logins_total", outcome="failed") == before + 3
    assert metric(hardened_backend.url, "goldenpath_logins_total", outcome="rate_limited") >= 2
    # Other users, from the same address, are not affected.
    assert _post_login(hardened_backend, "load1", PASSWORD).status_code == 200
    # Unknown usernames are limited the same way (no enumeration through the limiter).
    codes = [_post_login(hardened_backend, "nobody", "nope").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_a_successful_login_clears_the_users_counter(hardened_backend: EmbeddedBackend) -> None:
    codes = [_post_login(hardened_backend, "load2", "nope").status_code for _ in range(2)]
    codes.append(_post_login(hardened_backend, "load2", PASSWORD).status_code)
    codes += [_post_login(hardened_backend, "load2", "nope").status_code for _ in range(4)]
    assert codes == [401, 401, 200, 401, 401, 401, 429]


def test_successes_are_never_limited_and_the_address_limit_holds(
    address_limited_backend: EmbeddedBackend,
) -> None:
    backend = address_limited_backend

    async def many_logins() -> list[int]:
        async with httpx.AsyncClient(base_url=backend.url, timeout=30) as http:
            body = {"username": "load0", "password": PASSWORD}
            resps = await asyncio.gather(
                *(http.post("/api/auth/login", json=body) for _ in range(60))
            )
        return [r.status_code for r in resps]

    # 60 concurrent successes from one address, 12 times the address's failure budget.
    assert set(asyncio.run(many_logins())) == {200}
    # Each guess claims another address through X-Forwarded-For: not believed, as no
    # proxy is trusted (GOLDENPATH_TRUSTED_PROXIES), so they all count against 127.0.0.1.
    codes = [
        httpx.post(
            f"{backend.url}/api/auth/login",
            json={"username": f"guess{i}", "password": "nope"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # Once the address is over its limit, even a right password waits (checked before hashing).
    assert _post_login(backend, "load1", PASSWORD).status_code == 429


# -- 2. JWT hardening ---------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    settings = Settings()
    claims: dict[str, Any] = {
        "sub": f"user-{uuid.uuid4().hex[:8]}",
        "name": "load0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return claims


def _sign_raw(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def _hostile_token(case: str) -> str:
    # Signed with the server's real (dev) secret, so only the named defect is wrong.
    if case == "wrong-issuer":
        return jwt.encode(_claims(iss="someone-else"), DEV_SECRET, algorithm="HS256")
    if case == "wrong-audience":
        return jwt.encode(_claims(aud="another-service"), DEV_SECRET, algorithm="HS256")
    if case == "nbf-in-future":
        return jwt.encode(_claims(nbf=int(time.time()) + 3600), DEV_SECRET, algorithm="HS256")
    if case == "hs256-with-public-key":
        # The classic confusion: HMAC keyed with the RSA public key (PyJWT refuses
        # to build this, so it is signed by hand).
        header = {"alg": "HS256", "typ": "JWT"}
        return _sign_raw(header, _claims(), RSA_PUBLIC_PEM.encode())
    if case == "rs256":
        # No RSA library in the environment: the signature is not a real RS256 one,
        # which does not matter, as the server must refuse on the header alone.
        header = {"alg": "RS256", "typ": "JWT"}
        return _sign_raw(header, _claims(), RSA_PUBLIC_PEM.encode())
    if case == "truncated":
        # A real token cut short inside its signature (a copy-paste or a proxy limit).
        token = jwt.encode(_claims(), DEV_SECRET, algorithm="HS256")
        return token[: len(token) - 10]
    raise AssertionError(case)


async def _ws_close_code(url: str, **kwargs: Any) -> int | None:
    async with connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code


@pytest.mark.parametrize(
    "case",
    [
        "wrong-issuer",
        "wrong-audience",
        "nbf-in-future",
        "hs256-with-public-key",
        "rs256",
        "truncated",
    ],
)
def test_hostile_tokens_close_1008_401_and_stay_out_of_the_log(
    canonical_backend: EmbeddedBackend, case: str
) -> None:
    token = _hostile_token(case)
    url = ws_url(canonical_backend.url)
    assert asyncio.run(_ws_close_code(url, subprotocols=jwt_subprotocols(token))) == 1008
    assert asyncio.run(_ws_close_code(f"{url}?token={token}")) == 1008
    assert (
        asyncio.run(_ws_close_code(url, additional_headers={"Authorization": f"Bearer {token}"}))
        == 1008
    )
    resp = httpx.post(
        f"{canonical_backend.url}/api/chat/message",
        json={"message": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 401
    assert resp.json() == {"detail": "invalid or missing token"}
    log = canonical_backend.tail(10**7)
    assert "auth rejected" in log  # the reason is logged ...
    assert token.split(".")[2] not in log and token.split(".")[1] not in log  # ... the token not


def test_a_valid_token_in_the_query_is_redacted_from_the_log(
    canonical_backend: EmbeddedBackend,
) -> None:
    resp = _post_login(canonical_backend, "load9", PASSWORD)
    token = resp.json()["access_token"]

    async def go() -> str:
        async with connect(f"{ws_url(canonical_backend.url)}?token={token}") as ws:
            await ws.send(json.dumps({"type": "user_message", "message": "hi"}))
            return str(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"])

    assert asyncio.run(go()) == "agent_started"
    log = canonical_backend.tail(10**7)
    assert "token=[redacted]" in log
    assert token.split(".")[2] not in log


# -- 3. forged ids --------------------------------------------------------------------------


def test_frames_with_forged_run_or_thread_ids_are_refused(
    canonical_backend: EmbeddedBackend,
) -> None:
    token = _post_login(canonical_backend, "load10", PASSWORD).json()["access_token"]
    base = canonical_backend.url
    created_before = httpx.get(f"{base}/api/factory/metrics").json()["total_engines_created"]
    rejected_before = metric(
        canonical_backend.url, "goldenpath_ws_frames_rejected_total", reason="forged_id"
    )
    forged_run = f"run-{uuid.uuid4().hex}"

    async def go() -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
        async with connect(ws_url(base), subprotocols=jwt_subprotocols(token)) as ws:  # type: ignore[arg-type]
            errors = []
            for extra in ({"run_id": forged_run}, {"thread_id": "thread-0"}, {"run_id": None}):
                await ws.send(json.dumps({"type": "user_message", "message": "hi", **extra}))
                errors.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            created = httpx.get(f"{base}/api/factory/metrics").json()["total_engines_created"]
            # The socket is still open and still works.
            await ws.send(json.dumps({"type": "user_message", "message": "honest"}))
            events = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
        return errors, created, events

    errors, created, events = asyncio.run(go())
    assert [e["type"] for e in errors] == ["error"] * 3
    assert [e["data"]["code"] for e in errors] == ["forged_id"] * 3
    assert forged_run not in json.dumps(errors)
    assert created == created_before  # nothing was run
    assert [e["type"] for e in events] == GOLDEN
    assert {e["run_id"] for e in events} != {forged_run}
    assert (
        metric(canonical_backend.url, "goldenpath_ws_frames_rejected_total", reason="forged_id")
        == rejected_before + 3
    )


def test_http_messages_naming_a_run_or_thread_are_refused(
    canonical_backend: EmbeddedBackend,
) -> None:
    token = _post_login(canonical_backend, "load7", PASSWORD).json()["access_token"]
    for field in ("run_id", "thread_id"):
        resp = httpx.post(
            f"{canonical_backend.url}/api/chat/message",
            json={"message": "hi", field: "run-0123"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 422
        assert resp.json()["detail"][0]["loc"] == ["body", field]


def test_legacy_mode_refuses_forged_ids_too(legacy_backend: EmbeddedBackend) -> None:
    token = _post_login(legacy_backend, "load11", PASSWORD).json()["access_token"]

    async def go() -> str:
        async with connect(ws_url(legacy_backend.url), subprotocols=jwt_subprotocols(token)) as ws:  # type: ignore[arg-type]
            frame = {"type": "user_message", "message": "hi", "thread_id": "thread-x"}
            await ws.send(json.dumps(frame))
            return str(json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]["code"])

    assert asyncio.run(go()) == "forged_id"


# -- 4. slow readers ------------------------------------------------------------------------


def test_a_client_that_stops_reading_is_dropped_and_others_are_unaffected(
    hardened_backend: EmbeddedBackend,
) -> None:
    backend = hardened_backend
    token = _post_login(backend, "load5", PASSWORD).json()["access_token"]
    before = metric(backend.url, "goldenpath_ws_send_timeouts_total")
    parts = urlsplit(backend.url)

    async def go() -> None:
        # A tiny receive buffer, and a client that never reads: the server's sends
        # back up within a few MB and must time out (ws_send_timeout_s=0.3).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((parts.hostname, parts.port))
        sock.setblocking(False)
        ws = await connect(
            ws_url(backend.url),
            sock=sock,
            subprotocols=jwt_subprotocols(token),  # type: ignore[arg-type]
            max_queue=1,
            close_timeout=0.5,
            compression=None,  # deflate would shrink the replies to nothing
        )
        try:
            big = "x" * 60_000  # each reply quotes it: ~60 KB per run
            deadline = time.monotonic() + 15
            while metric(backend.url, "goldenpath_ws_send_timeouts_total") <= before:
                assert time.monotonic() < deadline, "the slow reader was never dropped"
                for _ in range(20):
                    await ws.send(json.dumps({"type": "user_message", "message": big}))
                await asyncio.sleep(0.2)
            # Meanwhile, another user's golden path works as usual.
            out = await golden_path(backend.url, "load6", PASSWORD)
            assert out.types == GOLDEN and not out.timed_out
        finally:
            ws.transport.abort()

    asyncio.run(go())
    assert metric(backend.url, "goldenpath_ws_closes_total", code="1008") >= 1
    deadline = time.monotonic() + 5
    while httpx.get(f"{backend.url}/api/factory/metrics").json()["websocket_connections"]:
        assert time.monotonic() < deadline, "the slow socket is still registered"
        time.sleep(0.05)


# -- 5. half-open clients -----------------------------------------------------------------


def test_a_half_open_client_is_dropped_by_the_ping_timeout() -> None:
    """A peer that completed the handshake and then went silent (no FIN, no pong)."""
    settings = {"ws_ping_interval_s": 0.5, "ws_ping_timeout_s": 0.5}
    with EmbeddedBackend(users=2, password=PASSWORD, settings=settings) as backend:
        token = _post_login(backend, "load0", PASSWORD).json()["access_token"]
        parts = urlsplit(backend.url)
        key = base64.b64encode(uuid.uuid4().bytes).decode()
        handshake = (
            f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
            raw.sendall(handshake.encode())
            assert raw.recv(4096).startswith(b"HTTP/1.1 101")
            metrics_url = f"{backend.url}/api/factory/metrics"
            assert httpx.get(metrics_url).json()["websocket_connections"] == 1
            # From here the client neither reads nor answers the server's pings.
            deadline = time.monotonic() + 10
            while httpx.get(metrics_url).json()["websocket_connections"]:
                assert time.monotonic() < deadline, "the silent socket was never dropped"
                time.sleep(0.1)
            # The server is unharmed: another user is served as usual.
            out = asyncio.run(golden_path(backend.url, "load1", PASSWORD))
            assert out.types == GOLDEN
        assert "Traceback" not in backend.tail()
