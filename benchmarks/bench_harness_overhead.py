"""Harness overhead: GoldenPathUser (every check on) vs a bare loop sending the same frames.

Same canonical backend, same run, trials interleaved (bare, golden, bare, golden,
...) so machine drift cancels. Goal: golden >= 0.8 x bare.

    .venv/bin/python benchmarks/bench_harness_overhead.py [--users 50] [--seconds 15] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from loadtests.embedded import EmbeddedBackend

HERE = Path(__file__).resolve().parent


def trial(url: str, user: str, users: int, seconds: float) -> dict[str, float]:
    cmd = [
        sys.executable,
        str(HERE / "locust_bench.py"),
        "--host",
        url,
        "--user",
        user,
        "--users",
        str(users),
        "--seconds",
        str(seconds),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"bare": [], "golden": []}
    with EmbeddedBackend(users=args.users) as backend:
        for _ in range(args.trials):
            for user in ("bare", "golden"):
                r = trial(backend.url, user, args.users, args.seconds)
                results[user].append(r)
                print(
                    f"  {user:<6} {r['flows_per_s']:8.1f} flows/s  ({r['flows']} flows, "
                    f"{r['failures']} failures)",
                    file=sys.stderr,
                )
    bare = statistics.median(r["flows_per_s"] for r in results["bare"])
    golden = statistics.median(r["flows_per_s"] for r in results["golden"])
    print(
        f"# harness overhead ({platform.machine()}, {os.cpu_count()} cores, {args.users} users, "
        f"{args.trials} interleaved trials of {args.seconds:.0f} s)"
    )
    print("| loop | median flows/s | failures |")
    print("| --- | ---: | ---: |")
    print(
        f"| bare (same frames, no checks) | {bare:.1f} | "
        f"{sum(r['failures'] for r in results['bare'])} |"
    )
    print(
        f"| GoldenPathUser (all checks + event log) | {golden:.1f} | "
        f"{sum(r['failures'] for r in results['golden'])} |"
    )
    print(f"\nratio golden/bare = {golden / bare:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()
