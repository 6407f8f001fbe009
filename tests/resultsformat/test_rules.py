"""The shared rules every verb uses: the duration syntax and "did this run complete"."""

from __future__ import annotations

import pytest

from resultsformat.duration import parse_duration
from resultsformat.meta import END_REASONS, MISSING, describe_end, end_reason, is_completed


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("500ms", 0.5),
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("2m30s", 150),
        ("1.5s", 1.5),
        ("45", 45),
        (" 10s ", 10),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds), text


@pytest.mark.parametrize("text", ["", "abc", "5x", "10 s", "-5s", "ms", "5m5", "1h30", "30m1h"])
def test_parse_duration_rejects_with_the_syntax(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*500ms, 90s, 5m, 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0ms", "0h0m"])
def test_parse_duration_rejects_zero(text: str) -> None:
    with pytest.raises(ValueError, match="must be more than zero"):
        parse_duration(text)


def test_only_completed_is_complete() -> None:
    assert is_completed({"end_reason": "completed"})
    for reason in set(END_REASONS) - {"completed"}:
        assert not is_completed({"end_reason": reason}), reason
    # A meta.json without the field cannot vouch for its figures: unfinished everywhere.
    assert not is_completed({})
    assert not is_completed({"end_reason": None})
    assert end_reason({}) == MISSING


def test_describe_end_names_reason_and_detail() -> None:
    meta = {"end_reason": "worker_lost", "end_detail": "1 of 2 Locust workers stopped reporting"}
    assert describe_end(meta) == "worker_lost (1 of 2 Locust workers stopped reporting)"
    assert describe_end({"end_reason": "completed", "end_detail": None}) == "completed"
