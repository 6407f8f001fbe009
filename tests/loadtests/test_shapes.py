"""Load shapes: users over time, and every shape ends by itself."""

from __future__ import annotations

import pytest

from loadtests.config import UsageError, parse_duration
from loadtests.shapes import SHAPES, ShapeSpec, users_at


def users_over_time(name: str, spec: ShapeSpec) -> list[int | None]:
    return [users_at(name, spec, t) for t in (0, 10, 25, 45, 59.9, 60, 100)]


def test_shapes() -> None:
    spec = ShapeSpec(users=40, spawn_rate=10, duration_s=60)
    assert users_over_time("steady", spec) == [40, 40, 40, 40, 40, None, None]
    ramp = users_over_time("ramp", spec)
    assert ramp[0] == 1 and ramp[1] < ramp[2] < ramp[3] <= ramp[4] == 40 and ramp[-1] is None
    assert users_over_time("step", spec) == [10, 10, 20, 40, 40, None, None]
    assert users_over_time("spike", spec) == [40, 40, 120, 40, 40, None, None]
    assert users_over_time("cold-start", spec) == [40, 40, 40, 40, 40, None, None]
    assert set(SHAPES) == {"steady", "ramp", "step", "spike", "soak", "cold-start"}
    with pytest.raises(ValueError, match="unknown scenario"):
        users_at("wave", spec, 0)


@pytest.mark.parametrize("text, seconds", [("20s", 20), ("2m", 120), ("1h30m", 5400), ("45", 45)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0s", "-5s", "5x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
