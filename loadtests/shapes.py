"""Load shapes: steady, ramp, step, spike, soak, cold-start, as Locust ``LoadTestShape``s.

``users_at(name, spec, t)`` is the plain arithmetic (no Locust import, so it
can be tested anywhere); ``make_shape`` wraps it in a ``LoadTestShape`` whose
``tick`` returns ``None`` when the time is up: every shape stops by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from locust import LoadTestShape


@dataclass(frozen=True)
class ShapeSpec:
    """Parameters shared by the shapes; each shape reads the ones it needs."""

    users: int
    spawn_rate: float
    duration_s: float
    steps: int = 4
    spike_users: int | None = None
    spike_at: float = 0.4
    spike_len: float = 0.2


def _steady(spec: ShapeSpec, t: float) -> int:
    """All users for the whole duration (soak: the same, for long runs)."""
    return spec.users


def _ramp(spec: ShapeSpec, t: float) -> int:
    """From 1 user to ``users`` linearly over the first 80% of the run, then hold."""
    frac = min(1.0, t / (0.8 * spec.duration_s))
    return round(1 + (spec.users - 1) * frac)


def _step(spec: ShapeSpec, t: float) -> int:
    """``users`` in ``steps`` equal steps of equal length."""
    steps = max(1, spec.steps)
    step = min(steps, int(t / (spec.duration_s / steps)) + 1)
    return round(spec.users * step / steps)


def _spike(spec: ShapeSpec, t: float) -> int:
    """``users``, a spike to ``spike_users`` (default 3x) in the middle, then back."""
    start = spec.spike_at * spec.duration_s
    end = start + spec.spike_len * spec.duration_s
    return (spec.spike_users or spec.users * 3) if start <= t < end else spec.users


SHAPES: dict[str, Callable[[ShapeSpec, float], int]] = {
    "steady": _steady,
    "ramp": _ramp,
    "step": _step,
    "spike": _spike,
    "soak": _steady,
    # every user at the same instant, right after the backend started: what a deploy sees
    # when its clients reconnect at once (with runs started over HTTP, see the runner)
    "cold-start": _steady,
}


def users_at(name: str, spec: ShapeSpec, t: float) -> int | None:
    """Users wanted ``t`` seconds into the run; None once the run is over."""
    try:
        shape = SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: choose from {', '.join(SHAPES)}") from None
    if t >= spec.duration_s:
        return None
    return max(1, shape(spec, t))


def make_shape(name: str, spec: ShapeSpec) -> LoadTestShape:
    """A Locust shape for ``name`` (imports Locust: call it from the load process only)."""
    from locust import LoadTestShape

    users_at(name, spec, 0)  # unknown names fail here, before Locust starts

    class GoldenPathShape(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]  # Locust's
            users = users_at(name, spec, elapsed)
            if users is None:
                return None
            # a spike arrives within a second; a cold start at the same instant
            if name == "cold-start":
                rate = max(spec.spawn_rate, 1000.0 * users)
            elif name == "spike":
                rate = max(spec.spawn_rate, float(users))
            else:
                rate = spec.spawn_rate
            return users, rate

    GoldenPathShape.__name__ = f"{name.capitalize()}Shape"
    return GoldenPathShape()  # type: ignore[no-untyped-call]  # LoadTestShape.__init__
