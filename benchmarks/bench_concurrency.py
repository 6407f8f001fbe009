"""Concurrency: N concurrent WebSocket users held for 60 s against the canonical backend.

Each user logs in and connects once (``--connection persistent``), then sends one
message every ``--think-time`` seconds. While the load runs, the backend's own
count of open sockets is sampled every 2 s, so "held" is measured on the server.
Reference in the same run: the same scenario with 50 users; the ratio of
response p99 shows what 100x the connections cost.

    .venv/bin/python benchmarks/bench_concurrency.py [--users 10000] [--hold 60]

It also samples the resident memory of the load generator and of the backend
every 2 s; the difference between the two runs over the extra users is the
memory per virtual user and per server socket.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from loadtests.embedded import EmbeddedBackend
from resultsformat import count_runs, requests_by_name


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_load(
    url: str,
    backend_pid: int,
    users: int,
    spawn_rate: float,
    hold_s: float,
    think: str,
    out: Path,
    samples: list[tuple[float, int]],
) -> dict[str, Any]:
    # Spawning runs slower than spawn_rate on a saturated machine: a quarter more time, so
    # the hold after the last user arrives is at least hold_s.
    duration = 1.25 * users / spawn_rate + hold_s + 10
    cmd = [
        sys.executable,
        "-m",
        "loadtests.cli",
        "run",
        "--host",
        url,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--duration",
        f"{duration:.0f}s",
        "--connection",
        "persistent",
        "--think-time",
        think,
        "--response-timeout",
        "30s",
        "--source-addresses",
        "4",
        "--out",
        str(out),
        "--quiet",
    ]
    stop = threading.Event()
    # (time, sockets the server counts, load generator RSS MiB, backend RSS MiB)
    memory: list[tuple[float, float, float]] = []
    load = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603

    def sample() -> None:
        while not stop.wait(2):
            memory.append((time.monotonic(), rss_mb(load.pid), rss_mb(backend_pid)))
            try:
                m = httpx.get(f"{url}/api/factory/metrics", timeout=5).json()
                samples.append((time.monotonic(), int(m["websocket_connections"])))
            except httpx.HTTPError:
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    try:
        _, stderr = load.communicate(timeout=duration + 180)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
        stop.set()
        sampler.join()
    if load.returncode != 0:
        print(stderr[-2000:], file=sys.stderr)
    events = pd.read_parquet(out / "events.parquet")
    # The hold: from the first sample at the full count on the server to the planned end
    # of the load (less 2 s, before Locust stops its users).
    full = [t for t, n in samples if n >= users]
    first_full = full[0] if full else float("inf")
    end = started + duration - 2
    held = [n for t, n in samples if first_full <= t <= end]
    hold_mem = [(lg, be) for t, lg, be in memory if first_full <= t <= end]
    # Seconds at the full count without a dip, from the first full sample on.
    last_full = first_full
    for t, n in samples:
        if first_full <= t <= end:
            if n < users:
                break
            last_full = t
    resp = events[(events["name"] == "response") & events["ok"]]["ms"]
    prior = events["prior_kind"] if "prior_kind" in events else None
    runs = count_runs(events["name"], events["failure_kind"], events["close_code"], prior)
    requests = requests_by_name(events["name"], events["failure_kind"], events["ok"], runs)
    return {
        "users": users,
        "exit": load.returncode,
        "rows": len(events),
        # the one counting rule: failed requests of every name; agent runs by the run rule
        "failures": int(requests["failed"].sum()),
        "failure_kinds": dict(runs.failures()),
        "failed_by_name": {
            str(n): int(f) for n, f in zip(requests.index, requests["failed"], strict=True) if f
        },
        "not_requests": int(requests["not_requests"].sum()),  # runs cut by the end of the load
        "ws_connect_ok": int(((events["name"] == "ws_connect") & events["ok"]).sum()),
        "responses": len(resp),
        "response_p50_ms": float(resp.quantile(0.5)),
        "response_p99_ms": float(resp.quantile(0.99)),
        "held_min": min(held) if held else 0,
        "held_max": max(held) if held else 0,
        "held_seconds": round(last_full - first_full) if full else 0,
        # the median over the hold: the steady footprint at this many users
        "load_rss_mb": median([lg for lg, _ in hold_mem]),
        "backend_rss_mb": median([be for _, be in hold_mem]),
    }


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--spawn-rate", type=float, default=100)
    parser.add_argument("--hold", type=float, default=60)
    parser.add_argument("--think-time", default="20s")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    results = []
    with EmbeddedBackend(users=args.users) as backend, tempfile.TemporaryDirectory() as tmp:
        for users in (50, args.users):
            samples: list[tuple[float, int]] = []
            results.append(
                run_load(
                    backend.url,
                    int(backend.pid or 0),
                    users,
                    args.spawn_rate,
                    args.hold,
                    args.think_time,
                    Path(tmp) / f"u{users}",
                    samples,
                )
            )
            print(json.dumps(results[-1]), file=sys.stderr)
    ref, big = results
    print(
        f"# concurrency ({platform.machine()}, {os.cpu_count()} cores, open files {hard}, "
        f"think time {args.think_time}, hold {args.hold:.0f} s)"
    )
    print(
        "| users | sockets on the server through the hold (min..max) "
        "| seconds at full count, unbroken | responses "
        "| failures | response p50 ms | response p99 ms |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['users']} | {r['held_min']}..{r['held_max']} | {r['held_seconds']} | "
            f"{r['responses']} | {r['failures']} | {r['response_p50_ms']:.1f} | "
            f"{r['response_p99_ms']:.1f} |"
        )
    print(
        f"\np99 ratio {big['users']} users / {ref['users']} users = "
        f"{float(big['response_p99_ms']) / float(ref['response_p99_ms']):.1f}x"
    )
    for r in results:
        print(
            f"{r['users']} users: failed requests by name {r['failed_by_name'] or 'none'}; "
            f"agent runs by failure kind {r['failure_kinds'] or 'none'}; "
            f"{r['not_requests']} run(s) cut by the end of the load (not failures)"
        )
    extra = big["users"] - ref["users"]
    print(
        f"memory over the hold (median RSS): load generator {ref['load_rss_mb']:.0f} MiB at "
        f"{ref['users']} users, {big['load_rss_mb']:.0f} MiB at {big['users']}: "
        f"{(big['load_rss_mb'] - ref['load_rss_mb']) * 1024 / extra:.0f} KiB per virtual user; "
        f"backend {ref['backend_rss_mb']:.0f} -> {big['backend_rss_mb']:.0f} MiB: "
        f"{(big['backend_rss_mb'] - ref['backend_rss_mb']) * 1024 / extra:.0f} KiB per socket"
    )


if __name__ == "__main__":
    main()
