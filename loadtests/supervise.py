"""Supervising a Locust run: local worker processes, the stop conditions, the progress line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
import httpx
from locust.runners import STATE_INIT, STATE_MISSING, STATE_STOPPED, MasterRunner

from loadtests.embedded import EmbeddedBackend
from loadtests.plan import RunPlan
from loadtests.recorder import Recorder
from loadtests.results import format_counts
from resultsformat.meta import COMPLETED

# A part that cannot be written is retried every second; after this long the run stops.
WRITE_FAILURE_LIMIT_S = 5.0


class Progress:
    """One status line every few seconds (stderr), so a long run shows it is alive."""

    def __init__(self, recorder: Recorder, duration_s: float, *, quiet: bool) -> None:
        self.recorder = recorder
        self.duration_s = duration_s
        self.quiet = quiet
        self.started = time.monotonic()
        self._last = 0.0

    def tick(self, runner: Any, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self._last < 2.0):
            return
        self._last = now
        live = self.recorder.live
        elapsed = now - self.started
        rate = live.runs.runs / elapsed if elapsed > 0 else 0.0
        print(
            f"[{elapsed:5.0f}s/{self.duration_s:.0f}s] users {runner.user_count:>5} | "
            f"{rate:.1f} runs/s | {format_counts(live.runs)} | rows {live.rows}",
            file=sys.stderr,
            flush=True,
        )


def start_workers(n: int, port: int, log: Path) -> list[subprocess.Popen[bytes]]:
    locustfile = Path(__file__).with_name("locustfile.py")
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker"]
    cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
    procs = []
    with open(log, "ab") as fh:
        for _ in range(n):
            procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT))  # noqa: S603
    return procs


def await_last_reports(
    runner: MasterRunner, recorder: Recorder, lost: set[str], timeout_s: float = 10.0
) -> None:
    """Wait until each live worker has sent a report after it stopped: it carries its last rows.

    A stopping worker kills its users, sends ``client_stopped``, then ``client_ready``
    (state INIT). Its messages arrive in order, so a report that arrives after the master
    has seen it INIT again left after its users stopped. Workers report every 3 s, so this
    takes at most about that; a worker that went missing sends nothing more.
    """
    seen_at: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = False
        for client_id in set(recorder.reports) | set(runner.clients):
            node = runner.clients.get(client_id)
            if client_id in lost or (node is not None and node.state == STATE_MISSING):
                continue
            if node is None or node.state != STATE_INIT:
                waiting = True  # between client_stopped and client_ready, or still stopping
                continue
            seen_at.setdefault(client_id, recorder.reports[client_id])
            waiting |= recorder.reports[client_id] <= seen_at[client_id]
        if not waiting:
            return
        gevent.sleep(0.1)


def stop_processes(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


Stop = tuple[str, str | None]  # why a run ended: (end_reason, end_detail)


class Watch:
    """A run's stop conditions, one small method each; ``step`` checks them all."""

    def __init__(
        self,
        runner: Any,
        recorder: Recorder,
        backend: EmbeddedBackend | None,
        target: str,
        health: httpx.Client,
        n_workers: int,
        plan: RunPlan,
    ) -> None:
        self.runner, self.recorder, self.backend = runner, recorder, backend
        self.target, self.health, self.n_workers = target, health, n_workers
        self.started = time.monotonic()
        # The shape stops the run at duration_s; this bound stops it whatever happens.
        self.hard_deadline = self.started + plan.duration_s + max(30.0, 2 * plan.response_timeout_s)
        self.health_failures, self.next_health = 0, self.started + 1
        self.lost: set[str] = set()
        self.note: Stop | None = None  # a worker lost while the others run on

    def step(self) -> Stop | None:
        """None while the run goes on; else why it ends now."""
        now = time.monotonic()
        if self.shape_done(now):
            return self.note or (COMPLETED, None)
        for check in (self.backend_dead, self.all_workers_lost, self.writes_failing):
            if (stop := check(now)) is not None:
                return stop
        return self.past_bound(now)

    def shape_done(self, now: float) -> bool:
        return bool(self.runner.state == STATE_STOPPED and now - self.started > 1)

    def backend_dead(self, now: float) -> Stop | None:
        """The embedded backend exited, or a remote one failed ``/health`` 5 times running."""
        proc = self.backend.process if self.backend is not None else None
        if proc is not None:
            if proc.poll() is None:
                return None
            return "backend_died", f"the backend exited with {proc.returncode} mid-run"
        if now < self.next_health:
            return None
        self.next_health = now + 1
        try:
            self.health.get(f"{self.target}/health").raise_for_status()
            self.health_failures = 0
        except (httpx.HTTPError, OSError):  # OSError: out of files, say
            self.health_failures += 1
        if self.health_failures >= 5:
            return "backend_died", "GET /health failed 5 times in a row"
        return None

    def all_workers_lost(self, now: float) -> Stop | None:
        """Workers that stopped reporting are noted (the others run on, their users are not
        replaced); the run stops when none is left."""
        if not isinstance(self.runner, MasterRunner):
            return None
        missing = {c.id for c in self.runner.clients.missing} - self.lost
        if missing:
            self.lost |= missing
            self.note = (
                "worker_lost",
                f"{len(self.lost)} of {self.n_workers} Locust workers stopped reporting "
                "mid-run; the others ran on",
            )
        return self.note if len(self.lost) >= self.n_workers else None

    def writes_failing(self, now: float) -> Stop | None:
        parts = self.recorder.parts
        if parts is None or parts.failing_since is None:
            return None
        if now - parts.failing_since < WRITE_FAILURE_LIMIT_S:
            return None
        return (
            "write_failed",
            f"{parts.error}; retried for {WRITE_FAILURE_LIMIT_S:.0f} s, run stopped",
        )

    def past_bound(self, now: float) -> Stop | None:
        if now > self.hard_deadline:
            return "error", "the run did not stop by itself; stopped at the bound"
        return None
