"""Concurrency: N concurrent WebSocket users held for 60 s against the canonical backend.

Each user logs in and connects once (``--connection persistent``), then sends one
message every ``--think-time`` seconds. While the load runs, the backend's own
count of open sockets is sampled every 2 s, so "held" is measured on the server.
Reference in the same run: the same scenario with 50 users; the ratio of
response p99 shows what 100x the connections cost.

    .venv/bin/python benchmarks/bench_concurrency.py [--users 5000] [--hold 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

from loadtests.embedded import EmbeddedBackend


def run_load(
    url: str,
    users: int,
    spawn_rate: float,
    hold_s: float,
    think: str,
    out: Path,
    samples: list[tuple[float, int]],
) -> dict[str, object]:
    duration = users / spawn_rate + hold_s + 5
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

    def sample() -> None:
        while not stop.wait(2):
            try:
                m = httpx.get(f"{url}/api/factory/metrics", timeout=5).json()
                samples.append((time.monotonic(), int(m["websocket_connections"])))
            except httpx.HTTPError:
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 180)  # noqa: S603
    stop.set()
    sampler.join()
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    events = pd.read_parquet(out / "events.parquet")
    # the hold window: after every user has spawned, before they are stopped
    spawned = users / spawn_rate + 5
    held = [n for t, n in samples if spawned < t - started < spawned + hold_s - 5]
    resp = events[(events["name"] == "response") & events["ok"]]["ms"]
    return {
        "users": users,
        "exit": done.returncode,
        "rows": len(events),
        "failures": int((~events["ok"]).sum()),
        "ws_connect_ok": int(((events["name"] == "ws_connect") & events["ok"]).sum()),
        "responses": len(resp),
        "response_p50_ms": float(resp.quantile(0.5)),
        "response_p99_ms": float(resp.quantile(0.99)),
        "held_min": min(held) if held else 0,
        "held_max": max(held) if held else 0,
        "held_seconds": 2 * len([n for t, n in samples if n >= users]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
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
        "| users | sockets held (server, min..max) | seconds at full count | responses "
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


if __name__ == "__main__":
    main()
