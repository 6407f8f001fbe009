"""The golden-path checks on hand-made frames: each failure kind, and a clean pass."""

from __future__ import annotations

import json

import pytest

from loadtests.checks import (
    GOLDEN_PATH_EVENTS,
    RUNS_PER_USER,
    Account,
    RunCheck,
    failure_kind_of,
    new_canary,
)


def frames(
    user: str,
    canary: str,
    types: tuple[str, ...] = GOLDEN_PATH_EVENTS,
    run: str = "r1",
    echo: bool = False,
):
    """Events as the backend sends them; ``echo`` adds the top-level client_msg_id."""
    for t in types:
        data: dict[str, str] = {}
        if t == "agent_started":
            data = {"message": f"hi {canary}", "client_msg_id": canary}
        elif t == "agent_completed":
            data = {"result": f'You said: "hi {canary}"', "client_msg_id": canary}
        event = {"type": t, "user_id": user, "run_id": run, "data": data}
        if echo:
            event["client_msg_id"] = canary
        yield json.dumps(event)


def unfinished(account: Account, canary: str, sender: object) -> RunCheck:
    """An earlier run of ``sender`` that never completed (timed out, its socket closed)."""
    earlier = RunCheck(account, canary, sender=sender, timed_out=True)
    earlier.record()
    return earlier


def check_of(
    raws,
    user: str = "user-1",
    canary: str | None = None,
    earlier: frozenset[str] = frozenset(),
    earlier_runs: set[str] | None = None,
) -> RunCheck:
    """Read ``raws`` as one virtual user whose earlier unfinished runs sent ``earlier``."""
    account, me = Account(user), object()
    for c in earlier:
        run = unfinished(account, c, me)
        for run_id in earlier_runs or set():
            account.learn(run_id, run)
    check = RunCheck(account, canary or new_canary(), sender=me)
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
    assert check.stale == 5 and check.run_ids == {"r1"}
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
    check = RunCheck(Account("u"), new_canary())
    check.observe(json.dumps({"type": "agent_started", "user_id": "u", "run_id": "r"}))
    check.close_code = 1011
    assert check.failure_kind == "ws_close_1011"
    check.close_code = 1006
    assert check.failure_kind == "ws_close_other"
    err = RunCheck(Account("u"), new_canary())
    err.observe(json.dumps({"type": "error", "data": {"code": "engine_limit"}}))
    assert err.done and err.failure_kind == "protocol_error"
    junk = RunCheck(Account("u"), new_canary())
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


def test_an_event_naming_another_message_is_a_leak_even_without_a_canary() -> None:
    # another user's agent_thinking, misaddressed under my own user id: no canary in it,
    # only its client_msg_id gives it away
    mine = new_canary()
    ours = list(frames("user-1", mine, echo=True))
    for theirs, marker in ((new_canary(), None), ("msg-42", "client_msg_id=msg-42")):
        leak = json.dumps(
            {"type": "agent_thinking", "user_id": "user-1", "run_id": "r9", "client_msg_id": theirs}
        )
        check = check_of([ours[0], leak, *ours[1:]], canary=mine)
        assert check.failure_kind == "isolation_violation"
        assert check.foreign == [marker or theirs]  # one marker per frame
    # the same events without the leak pass
    assert check_of(ours, canary=mine).failure_kind is None


def test_virtual_users_sharing_an_account_set_each_others_runs_aside() -> None:
    # two virtual users logged in as one backend user: the backend sends each one's
    # events to both sockets; those are the account's own, not a leak
    account, alice, bob = Account("user-1"), object(), object()
    a = RunCheck(account, new_canary(), sender=alice)
    b = RunCheck(account, new_canary(), sender=bob)
    for echo in (True, False):  # by client_msg_id, or by the canary and learned run id
        a = RunCheck(account, new_canary(), sender=alice)
        b = RunCheck(account, new_canary(), sender=bob)
        theirs = list(frames("user-1", b.canary, run=f"rb{echo}", echo=echo))
        ours = list(frames("user-1", a.canary, run=f"ra{echo}", echo=echo))
        for raw in [theirs[0], ours[0], theirs[1], ours[1], theirs[2], *ours[2:]]:
            a.observe(raw)
        assert a.failure_kind is None, a.failure()
        assert a.shared == 3 and a.stale == 0
    # a message no one on the account sent is still foreign
    stranger = list(frames("user-1", new_canary(), echo=True))[0]
    assert a.observe(stranger) is a and a.failure_kind == "isolation_violation"


def test_an_event_after_a_runs_completion_is_charged_to_that_run() -> None:
    account, me = Account("user-1"), object()
    first = RunCheck(account, new_canary(), sender=me)
    for raw in frames("user-1", first.canary, run="r1", echo=True):
        first.observe(raw)
    assert first.record() == "ok"
    second = RunCheck(account, new_canary(), sender=me)
    repeat = list(frames("user-1", first.canary, run="r1", echo=True))[-1]
    assert second.observe(repeat) is first  # a second agent_completed of the first run
    assert first.outcome_change() == ("ok", "out_of_order") and first.late == 1
    assert second.failure_kind == "timeout" and not second.types  # nothing charged to it


def test_a_foreign_frame_after_the_row_changes_the_recorded_outcome() -> None:
    account = Account("user-1")
    check = RunCheck(account, new_canary())
    for raw in frames("user-1", check.canary, echo=True):
        check.observe(raw)
    check.record()
    assert check.outcome_change() is None
    check.observe(list(frames("user-2", new_canary(), echo=True))[-1])  # a late leak
    assert check.outcome_change() == ("ok", "isolation_violation")
    check.record()
    assert check.outcome_change() is None


def test_interrupted_runs_are_their_own_kind_and_a_late_reply_does_not_complete_them() -> None:
    check = RunCheck(Account("user-1"), new_canary())
    raws = list(frames("user-1", check.canary, echo=True))
    check.observe(raws[0])
    check.interrupted = True
    assert check.failure_kind == "interrupted"
    for raw in raws[1:]:  # what the socket still held when it was closed
        check.observe(raw)
    assert not check.completed and check.failure_kind == "interrupted"
    check.timed_out = True  # a run that had already timed out stays a timeout
    assert check.failure_kind == "timeout"


def test_failure_messages_are_fixed_per_kind_with_the_detail_apart() -> None:
    # Locust groups failures by message: one row per kind, whatever the counts
    one = check_of(list(frames("user-2", new_canary())))
    two = check_of(list(frames("user-3", new_canary()))[:2])
    f1, f2 = one.failure(), two.failure()
    assert f1 is not None and f2 is not None
    assert f1.kind == f2.kind == "isolation_violation"
    assert str(f1) == str(f2) and f1.detail != f2.detail


def test_a_forgotten_run_of_the_same_account_is_set_aside_not_foreign() -> None:
    """Runs older than the window are forgotten; their canary still carries the account's
    tag, so a late frame of one is this user's own, while another account's is foreign."""
    account, me = Account("user-1"), object()
    forgotten = account.new_canary()
    RunCheck(account, forgotten, sender=me, timed_out=True).record()
    for _ in range(RUNS_PER_USER + 1):  # push the first run out of the window
        RunCheck(account, account.new_canary(), sender=me)
    assert forgotten.startswith("CANARY-") and len(forgotten) == len("CANARY-") + 20
    check = RunCheck(account, account.new_canary(), sender=me)
    for raw in frames("user-1", forgotten, run="r-old", echo=True):
        assert check.observe(raw) is check
    assert check.stale == len(GOLDEN_PATH_EVENTS) and check.failure_kind == "timeout"
    assert not check.types and not check.foreign
    other = Account("user-2").new_canary()
    check.observe(list(frames("user-1", other, echo=True))[0])
    assert check.failure_kind == "isolation_violation"
