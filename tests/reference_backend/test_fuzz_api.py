"""Fuzz every HTTP operation of a real backend from its OpenAPI schema (schemathesis).

Valid and invalid requests, with a real token and without one, must never get
a 5xx, a status code, content type or body the schema does not document, or a
traceback. Every built-in schemathesis check runs (not_a_server_error,
status_code/content_type/response_schema conformance, negative_data_rejection,
ignored_auth, unsupported_method, ...).

schemathesis 4's fixture-based lazy schema does not run under pytest 9, so the
operations are parametrized from the app's own schema at import time (no
server, no lifespan) and ``test_served_schema_is_the_fuzzed_one`` proves it is
the schema the live server serves; every request goes to that live server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, Response

from loadtests.embedded import EmbeddedBackend
from reference_backend.main import create_app
from tests.utils.servers import PASSWORD

# A Python traceback, or a server-side source path, anywhere in a response body.
LEAK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]*\", line \d+|[\w.\-]+\.py\b")
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"mode": "all", "deterministic": True}, "seed": 20260101}
)
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=CONFIG)
# Bounded and reproducible: ~40 examples per operation and mode, the same ones on every run.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def fuzz_backend() -> Iterator[EmbeddedBackend]:
    """A canonical backend of its own: fuzzed logins trip the login limiter.

    The per-address limit is raised so later fuzzed logins still reach the
    handler instead of all meeting a 429; the per-user limit (10) stays, and the
    fuzzer's repeated usernames still get documented 429s from it.
    """
    overrides = {"login_max_failures_per_address": 100_000}
    with EmbeddedBackend(users=4, password=PASSWORD, settings=overrides) as backend:
        yield backend


@pytest.fixture(scope="module")
def token(fuzz_backend: EmbeddedBackend) -> str:
    resp = httpx.post(
        f"{fuzz_backend.url}/api/auth/login",
        json={"username": "load0", "password": PASSWORD},
        timeout=10,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def assert_no_leak(status: int, body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    match = LEAK.search(text)
    assert match is None, f"{status} body leaks {match.group(0)!r}: {text[:300]}"


def test_leak_pattern_catches_tracebacks() -> None:
    """The body check is not vacuous: it flags what a debug 500 page would show."""
    debug_page = 'Traceback (most recent call last):\n  File "/srv/app/api/chat.py", line 9'
    assert LEAK.search(debug_page)
    assert LEAK.search("error in reference_backend/service.py")
    assert not LEAK.search('{"detail":"invalid or missing token"}')
    assert not LEAK.search('# TYPE python_gc_objects_collected_total counter\nx{a="b"} 1.0')


def test_served_schema_is_the_fuzzed_one(fuzz_backend: EmbeddedBackend) -> None:
    served = httpx.get(f"{fuzz_backend.url}/openapi.json", timeout=10).json()
    assert served == create_app().openapi()
    assert len(list(schema.get_all_operations())) == 6


@pytest.mark.slow
@schema.parametrize()
@FUZZ
def test_fuzz_with_token(case: Case[Any], fuzz_backend: EmbeddedBackend, token: str) -> None:
    """Past authentication: the handlers themselves see every fuzzed body."""
    response: Response = case.call_and_validate(
        base_url=fuzz_backend.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert_no_leak(response.status_code, response.content)


@pytest.mark.slow
@schema.parametrize()
@FUZZ
def test_fuzz_without_token(case: Case[Any], fuzz_backend: EmbeddedBackend) -> None:
    """No token, or whatever Authorization header the fuzzer makes up: a clean 401, never a 5xx."""
    response: Response = case.call_and_validate(base_url=fuzz_backend.url, timeout=10)
    assert_no_leak(response.status_code, response.content)


# Regressions for what the fuzzer found: statuses and a content type the schema did not list.
NOT_UTF8 = {"content": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status"),
    [
        ("post", "/api/auth/login", {"json": {"username": "load1", "password": "nope"}}, 401),
        ("post", "/api/auth/login", NOT_UTF8, 400),
        ("post", "/api/chat/message", {"json": {"message": "hi"}}, 401),
        ("post", "/api/chat/message", NOT_UTF8, 400),
    ],
    ids=["login-401", "login-400", "chat-401", "chat-400"],
)
def test_error_status_is_documented(
    fuzz_backend: EmbeddedBackend,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
) -> None:
    served = httpx.get(f"{fuzz_backend.url}/openapi.json", timeout=10).json()
    resp = httpx.request(method, f"{fuzz_backend.url}{path}", timeout=10, **request_kwargs)
    assert resp.status_code == status
    assert set(resp.json()) == {"detail"}
    documented = served["paths"][path][method]["responses"][str(status)]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }


def test_login_limit_answer_is_documented(fuzz_backend: EmbeddedBackend) -> None:
    """The 11th failed login for one user in a minute is a documented 429 with Retry-After."""
    served = httpx.get(f"{fuzz_backend.url}/openapi.json", timeout=10).json()
    with httpx.Client(base_url=fuzz_backend.url, timeout=10) as http:
        statuses = [
            http.post("/api/auth/login", json={"username": "load2", "password": "x"})
            for _ in range(11)
        ]
    assert [r.status_code for r in statuses] == [401] * 10 + [429]
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert "429" in served["paths"]["/api/auth/login"]["post"]["responses"]


def test_metrics_documented_as_text(fuzz_backend: EmbeddedBackend) -> None:
    served = httpx.get(f"{fuzz_backend.url}/openapi.json", timeout=10).json()
    resp = httpx.get(f"{fuzz_backend.url}/metrics", timeout=10)
    assert resp.headers["content-type"].startswith("text/plain")
    assert list(served["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
