"""Soak: many agent runs over real WebSockets; engines return to zero and RSS does not grow.

A canonical backend (model thinking 0 ms, so runs are fast) serves ``--users``
clients, one socket each, every client sending its next message as soon as the
previous run completed. Every ``--reconnect-every`` runs a client closes its
socket, logs in again and reconnects, so connection setup and teardown are
soaked too. The backend's RSS (``VmRSS`` of its PID) and its factory counters
are sampled every ``--every`` runs; after ``--warmup`` checkpoints a least-squares
line through RSS vs runs gives the growth in KiB per 10,000 runs. Reference in
the same run: that growth as a percentage of the post-warm-up RSS.

Bounded: it stops at ``--runs`` runs or after ``--max-seconds``, whichever is first.
Exits 1 when the factory's engines do not return to zero after the clients leave.

    .venv/bin/python benchmarks/bench_soak.py [--runs 100000] [--max-seconds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from loadtests.embedded import EmbeddedBackend
from loadtests.wsclient import jwt_subprotocols, ws_url

PASSWORD = "load-password"  # noqa: S105 - throwaway load-test users
RUN_TIMEOUT_S = 10.0
SETTLE_S = 10.0


def rss_kib(pid: int) -> int:
    """``VmRSS`` of ``pid`` in KiB, from /proc (no dependency, Linux only)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Checkpoint:
    runs: int
    seconds: float
    rss_kib: int
    factory: dict[str, Any]


@dataclass
class Soak:
    """Shared state of the clients: the run budget, counts, and checkpoints."""

    runs: int
    every: int
    deadline: float
    started_at: float
    pid: int
    http: httpx.AsyncClient
    claimed: int = 0
    completed: int = 0
    connects: int = 0
    timeouts: int = 0
    mismatches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    _sampling: set[asyncio.Task[None]] = field(default_factory=set)

    def budget_left(self) -> bool:
        return self.claimed < self.runs and time.monotonic() < self.deadline

    def claim(self) -> bool:
        """Take one run from the budget; False once runs or time are spent."""
        if not self.budget_left():
            return False
        self.claimed += 1
        return True

    def done(self) -> None:
        self.completed += 1
        if self.completed % self.every == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        # RSS is read now, at exactly this run count; the factory's counters come
        # over HTTP a moment later (in-flight runs move on meanwhile).
        point = Checkpoint(
            self.completed, time.monotonic() - self.started_at, rss_kib(self.pid), {}
        )
        self.checkpoints.append(point)
        task = asyncio.create_task(self._read_factory(point))
        self._sampling.add(task)
        task.add_done_callback(self._sampling.discard)

    async def _read_factory(self, point: Checkpoint) -> None:
        point.factory = (await self.http.get("/api/factory/metrics")).json()

    async def finish_sampling(self) -> None:
        await asyncio.gather(*self._sampling)


async def one_run(ws: ClientConnection, user: str, n: int) -> bool:
    """Send one message and read to its ``agent_completed``; False if another run's came."""
    cid = f"{user}-{n}"
    await ws.send(
        json.dumps({"type": "user_message", "message": f"soak {cid}", "client_msg_id": cid})
    )
    async with asyncio.timeout(RUN_TIMEOUT_S):
        while True:
            raw = await ws.recv()
            # Only the last of the five events is parsed: the client must not be the bottleneck.
            if isinstance(raw, str) and '"agent_completed"' in raw:
                data = json.loads(raw).get("data", {})
                return bool(data.get("client_msg_id") == cid)


async def client(soak: Soak, user: str, reconnect_every: int) -> None:
    """One user: log in, connect, run ``reconnect_every`` messages, close; until the budget ends."""
    n = itertools.count()
    while soak.budget_left():
        try:
            resp = await soak.http.post(
                "/api/auth/login", json={"username": user, "password": PASSWORD}
            )
            resp.raise_for_status()
            token = str(resp.json()["access_token"])
            async with connect(
                ws_url(str(soak.http.base_url)),
                subprotocols=jwt_subprotocols(token),  # type: ignore[arg-type]
                open_timeout=10,
            ) as ws:
                soak.connects += 1
                for _ in range(reconnect_every):
                    if not soak.claim():
                        break
                    if await one_run(ws, user, next(n)):
                        soak.done()
                    else:
                        soak.mismatches += 1
        except TimeoutError:
            soak.timeouts += 1
        except (OSError, httpx.HTTPError, ConnectionClosed, InvalidHandshake) as exc:
            soak.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.1)  # a failing backend must not become a busy loop


async def settle(http: httpx.AsyncClient) -> tuple[dict[str, Any], float]:
    """Factory metrics once engines, runs and sockets are at zero, or after SETTLE_S."""
    started = time.monotonic()
    while True:
        m: dict[str, Any] = (await http.get("/api/factory/metrics")).json()
        idle = m["active_engines_count"] == 0 and m["in_flight_runs"] == 0
        if (idle and m["websocket_connections"] == 0) or time.monotonic() - started > SETTLE_S:
            return m, time.monotonic() - started
        await asyncio.sleep(0.1)


def fit(points: list[tuple[int, int]]) -> tuple[float, float]:
    """Least-squares slope of y on x, and its standard error (nan when it has none)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    if n < 3:
        return slope, math.nan
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in points)
    return slope, math.sqrt(resid / (n - 2) / sxx)


async def soak_backend(backend: EmbeddedBackend, args: argparse.Namespace) -> dict[str, Any]:
    assert backend.pid is not None, "the backend is started before the soak"
    async with httpx.AsyncClient(base_url=backend.url, timeout=30) as http:
        started = time.monotonic()
        soak = Soak(args.runs, args.every, started + args.max_seconds, started, backend.pid, http)
        soak.checkpoint()
        users = [f"load{i}" for i in range(args.users)]
        await asyncio.gather(*(client(soak, u, args.reconnect_every) for u in users))
        elapsed = time.monotonic() - started
        await soak.finish_sampling()
        final, settled_s = await settle(http)
        final_rss = rss_kib(backend.pid)
    return {
        "soak": soak,
        "elapsed_s": elapsed,
        "final": final,
        "settled_s": settled_s,
        "final_rss_kib": final_rss,
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> int:
    soak: Soak = result["soak"]
    final: dict[str, Any] = result["final"]
    points = sorted(soak.checkpoints, key=lambda c: c.runs)
    elapsed = float(result["elapsed_s"])
    print(
        f"# soak ({platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {args.users} users, a reconnect every "
        f"{args.reconnect_every} runs, think 0 ms)"
    )
    print("| runs | seconds | RSS (MiB) | active engines | created | cleaned | sockets |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in points:
        f = c.factory
        print(
            f"| {c.runs} | {c.seconds:.1f} | {c.rss_kib / 1024:.1f} | "
            f"{f['active_engines_count']} | {f['total_engines_created']} | "
            f"{f['total_engines_cleaned']} | {f['websocket_connections']} |"
        )
    print(
        f"| end (+{result['settled_s']:.1f} s settle) | {elapsed:.1f} | "
        f"{result['final_rss_kib'] / 1024:.1f} | {final['active_engines_count']} | "
        f"{final['total_engines_created']} | {final['total_engines_cleaned']} | "
        f"{final['websocket_connections']} |"
    )
    # checkpoint 0 is before any load; it is never part of the fit
    fitted = [(c.runs, c.rss_kib) for c in points if c.runs > 0][args.warmup :]
    summary: dict[str, Any] = {
        "runs": soak.completed,
        "seconds": round(elapsed, 1),
        "runs_per_s": round(soak.completed / elapsed, 1),
        "connects": soak.connects,
        "timeouts": soak.timeouts,
        "mismatches": soak.mismatches,
        "errors": dict(soak.errors),
        "active_engines": final["active_engines_count"],
        "engines_created": final["total_engines_created"],
        "engines_cleaned": final["total_engines_cleaned"],
        "in_flight_runs": final["in_flight_runs"],
        "sockets": final["websocket_connections"],
    }
    if len(fitted) >= 2:
        slope, stderr = fit(fitted)
        base = fitted[0][1]
        growth = fitted[-1][1] - base
        summary |= {
            "rss_first_kib": base,
            "rss_last_kib": fitted[-1][1],
            "slope_kib_per_10k": round(slope * 10_000, 1),
            "slope_stderr_kib_per_10k": round(stderr * 10_000, 1),
            "growth_pct_of_rss": round(100 * growth / base, 2),
            "fit_points": len(fitted),
        }
        rss_line = (
            f"RSS {base / 1024:.1f} -> {fitted[-1][1] / 1024:.1f} MiB over runs "
            f"{fitted[0][0]}..{fitted[-1][0]} ({len(fitted)} checkpoints after warm-up): "
            f"slope {slope * 10_000:+.1f} +/- {stderr * 10_000:.1f} KiB per 10,000 runs, "
            f"growth {100 * growth / base:+.2f}% of the post-warm-up RSS"
        )
    else:
        rss_line = f"RSS: too few checkpoints after warm-up to fit ({len(fitted)})"
    print(json.dumps(summary), file=sys.stderr)
    ok = final["active_engines_count"] == 0 and (
        final["total_engines_created"] == final["total_engines_cleaned"]
    )
    print(
        f"\n{soak.completed} runs in {elapsed:.1f} s ({soak.completed / elapsed:.0f} runs/s, "
        f"{soak.connects} connects, {soak.timeouts} timeouts, {soak.mismatches} mismatches, "
        f"{sum(soak.errors.values())} errors); {rss_line}; engines at the end: "
        f"{final['active_engines_count']} active, {final['total_engines_created']} created, "
        f"{final['total_engines_cleaned']} cleaned ({'ok' if ok else 'NOT BACK TO ZERO'})"
    )
    return 0 if ok else 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"bench_soak: error: {message}\n")  # one line, no usage dump


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def main() -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=100_000, help="stop after this many")
    parser.add_argument("--max-seconds", type=positive_float, default=300, help="or after this")
    parser.add_argument("--every", type=positive_int, default=10_000, help="runs per checkpoint")
    # Two: the first 20,000 runs still fill bounded caches (the factory's 10,000
    # creation times, SQLite's page cache, malloc arenas of the thread pool).
    parser.add_argument("--warmup", type=int, default=2, help="checkpoints left out of the fit")
    parser.add_argument("--users", type=positive_int, default=50, help="concurrent sockets")
    parser.add_argument("--reconnect-every", type=positive_int, default=20, help="runs per socket")
    args = parser.parse_args()
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    backend = EmbeddedBackend(users=args.users, settings={"agent_think_ms": 0})
    try:
        backend.start()
        result = asyncio.run(soak_backend(backend, args))
    finally:
        backend.cleanup()
    return report(args, result)


if __name__ == "__main__":
    sys.exit(main())
