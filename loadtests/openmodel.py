"""An open (arrival-rate) model on top of Locust's closed one.

Iterations start on a schedule (constant or Poisson arrivals, with a linear
ramp of the rate), whatever the latency. Locust users act as a pool: a user
takes the next due start time from the schedule and runs one iteration. A
start that falls due while no user is free is *dropped* and counted (a row
``name=iteration, failure_kind=dropped``), never skipped silently. Each
iteration's latency is measured from its intended start, as wrk2 does, so
a stall shows in the percentiles instead of being omitted.
"""

from __future__ import annotations

import random
import time

import gevent
from gevent.queue import Queue
from locust.env import Environment

from loadtests.checks import GoldenPathFailure


class ArrivalSchedule:
    """Due start times for this process (its share of the total rate)."""

    def __init__(
        self,
        environment: Environment,
        *,
        rate: float,
        rate_end: float | None,
        duration_s: float,
        arrival: str = "constant",
        share: float = 1.0,
        seed: int = 0,
    ) -> None:
        if rate <= 0:
            raise ValueError("the open model needs --rate > 0")
        self.environment = environment
        self.rate = rate * share
        self.rate_end = (rate_end if rate_end is not None else rate) * share
        self.duration_s = duration_s
        self.poisson = arrival == "poisson"
        self._rng = random.Random(seed)  # noqa: S311 - arrival times, not crypto
        self._queue: Queue[float | None] = Queue()
        self._waiting = 0
        self.scheduled = 0
        self.dropped = 0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        self.stop_users()

    def rate_at(self, t: float) -> float:
        frac = min(1.0, t / self.duration_s) if self.duration_s > 0 else 0.0
        return self.rate + (self.rate_end - self.rate) * frac

    def _gap(self, t: float) -> float:
        rate = max(self.rate_at(t), 1e-6)
        return self._rng.expovariate(rate) if self.poisson else 1.0 / rate

    def _run(self) -> None:
        t0 = time.time()
        due = t0
        while due - t0 < self.duration_s:
            gevent.sleep(max(0.0, due - time.time()))
            self.scheduled += 1
            # A user is free when it waits in take() with nothing queued for it.
            if self._waiting > self._queue.qsize():
                self._queue.put(due)
            else:
                self._drop(due)
            due += self._gap(due - t0)
        self.stop_users()

    def stop_users(self) -> None:
        """Wake every waiting user with the end-of-schedule marker."""
        for _ in range(self._waiting + 1):
            self._queue.put(None)

    def _drop(self, due: float) -> None:
        self.dropped += 1
        self.environment.events.request.fire(
            request_type="GOLDENPATH",
            name="iteration",
            response_time=0,
            response_length=0,
            exception=GoldenPathFailure("dropped", "no free user at the scheduled start"),
            context={"user": "", "failure_kind": "dropped"},
            start_time=due,
            url=None,
            response=None,
        )

    def take(self) -> float | None:
        """Block until the next start is due; None when the schedule is over."""
        self._waiting += 1
        try:
            due: float | None = self._queue.get()
            return due
        finally:
            self._waiting -= 1
