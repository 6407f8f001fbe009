"""The golden-path checks on hand-made frames: each failure kind, and a clean pass."""

from __future__ import annotations

import json

import pytest

from loadtests.checks import GOLDEN_PATH_EVENTS, RunCheck, failure_kind_of, new_canary


def frames(user: str, canary: str, types: tuple[str, ...] = GOLDEN_PATH_EVENTS, run: str = "r1"):
    for t in types:
        data = {"result": f'You said: "hi {canary}"'} if t == "agent_completed" else {}
        yield json.dumps({"type": t, "user_id": user, "run_id": run, "data": data})


def check_of(raws, user: str = "user-1", canary: str | None = None) -> RunCheck:
    check = RunCheck(user_id=user, canary=canary or new_canary())
    for raw in raws:
        check.observe(raw)
        if check.done:
            break
    return check


def test_clean_run_passes() -> None:
    canary = new_canary()
    check = check_of(frames("user-1", canary), canary=canary)
    assert check.completed and check.failure_kind is None and check.failure() is None


def test_foreign_canary_is_an_isolation_violation() -> None:
    mine, theirs = new_canary(), new_canary()
    raws = list(frames("user-1", theirs))  # another message's reply, under my user id
    check = check_of(raws, canary=mine)
    assert check.failure_kind == "isolation_violation"


def test_foreign_user_id_is_an_isolation_violation() -> None:
    canary = new_canary()
    raws = list(frames("user-2", canary))
    assert check_of(raws, canary=canary).failure_kind == "isolation_violation"


@pytest.mark.parametrize(
    "types, kind",
    [
        (("agent_started", "tool_executing", "agent_completed"), "missing_event"),
        (
            (
                "agent_thinking",
                "agent_started",
                "tool_executing",
                "tool_completed",
                "agent_completed",
            ),
            "out_of_order",
        ),
        (("agent_started", "agent_thinking"), "timeout"),
    ],
)
def test_order_and_completeness(types: tuple[str, ...], kind: str) -> None:
    canary = new_canary()
    assert check_of(frames("user-1", canary, types), canary=canary).failure_kind == kind


def test_close_codes_and_errors() -> None:
    check = RunCheck(user_id="u", canary=new_canary())
    check.observe(json.dumps({"type": "agent_started", "user_id": "u", "run_id": "r"}))
    check.close_code = 1011
    assert check.failure_kind == "ws_close_1011"
    check.close_code = 1006
    assert check.failure_kind == "ws_close_other"
    err = RunCheck(user_id="u", canary=new_canary())
    err.observe(json.dumps({"type": "error", "data": {"code": "engine_limit"}}))
    assert err.done and err.failure_kind == "protocol_error"
    junk = RunCheck(user_id="u", canary=new_canary())
    junk.observe("not json")
    assert junk.failure_kind == "protocol_error"


def test_two_run_ids_is_out_of_order() -> None:
    canary = new_canary()
    raws = list(frames("user-1", canary, GOLDEN_PATH_EVENTS[:2], run="r1"))
    raws += list(frames("user-1", canary, GOLDEN_PATH_EVENTS[2:], run="r2"))
    assert check_of(raws, canary=canary).failure_kind == "out_of_order"


def test_failure_kind_of_exceptions() -> None:
    assert failure_kind_of(None) is None
    assert failure_kind_of(Exception("auth_failed: HTTP 401")) == "auth_failed"
    assert failure_kind_of(ConnectionRefusedError("refused")) == "connect_failed"
    assert failure_kind_of(Exception("HTTP 500")) == "http_error"
