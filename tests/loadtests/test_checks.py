"""The golden-path checks on hand-made frames: each failure kind, and a clean pass."""

from __future__ import annotations

import json

import pytest

from loadtests.checks import GOLDEN_PATH_EVENTS, RunCheck, failure_kind_of, new_canary


def frames(user: str, canary: str, types: tuple[str, ...] = GOLDEN_PATH_EVENTS, run: str = "r1"):
    for t in types:
        data: dict[str, str] = {}
        if t == "agent_started":  # as the backend sends them
            data = {"message": f"hi {canary}", "client_msg_id": canary}
        elif t == "agent_completed":
            data = {"result": f'You said: "hi {canary}"', "client_msg_id": canary}
        yield json.dumps({"type": t, "user_id": user, "run_id": run, "data": data})


def check_of(
    raws,
    user: str = "user-1",
    canary: str | None = None,
    earlier: frozenset[str] = frozenset(),
    earlier_runs: set[str] | None = None,
) -> RunCheck:
    check = RunCheck(
        user_id=user,
        canary=canary or new_canary(),
        earlier=earlier,
        earlier_runs=earlier_runs or set(),
    )
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


def late_and_mine(earlier: str, mine: str) -> list[str]:
    """An abandoned run's events around ours, as a user's next socket gets them:
    its first two came before our agent_started, the rest among our events."""
    theirs, ours = list(frames("user-1", earlier, run="r0")), list(frames("user-1", mine))
    return theirs[:2] + [ours[0], theirs[2], ours[1], theirs[3], theirs[4], *ours[2:]]


def test_late_events_of_this_users_unfinished_run_are_set_aside() -> None:
    # runs outlive their socket: a run the user gave up on is delivered to its next
    # socket; that is the same user's run, not a leak, and not part of ours
    earlier, mine = new_canary(), new_canary()
    check = check_of(late_and_mine(earlier, mine), canary=mine, earlier=frozenset({earlier}))
    assert check.failure_kind is None, check.failure()
    assert check.stale == 5 and check.run_ids == {"r1"} and check.earlier_runs == {"r0"}
    # a run seen only from its middle: its agent_started, the event echoing its
    # canary, was read on the old socket, which recorded its run id
    middle = list(frames("user-1", earlier, run="r0"))[2:4] + list(frames("user-1", mine))
    check = check_of(middle, canary=mine, earlier=frozenset({earlier}), earlier_runs={"r0"})
    assert check.failure_kind is None and check.stale == 2
    # ... and without that run id its events are taken for ours: a failure, never a leak
    check = check_of(middle, canary=mine, earlier=frozenset({earlier}))
    assert check.failure_kind == "out_of_order"


def test_only_this_users_unfinished_canaries_are_set_aside() -> None:
    earlier, mine, other = new_canary(), new_canary(), new_canary()
    raws = late_and_mine(earlier, mine)
    # not known as this user's: the strict check, a foreign canary
    assert check_of(raws, canary=mine).failure_kind == "isolation_violation"
    assert check_of(raws, canary=mine, earlier=frozenset({other})).failure_kind == (
        "isolation_violation"
    )
    # another user's run is a leak even while late events are being set aside
    leak = list(frames("user-2", other, run="r9"))[:1]
    check = check_of([*leak, *raws], canary=mine, earlier=frozenset({earlier}))
    assert check.failure_kind == "isolation_violation"
    assert set(check.foreign) == {"user_id=user-2", other}


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
