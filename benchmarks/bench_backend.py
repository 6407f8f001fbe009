"""The reference backend against a bare FastAPI WebSocket app, driven by one bare client.

``benchmarks/bare_backend.py`` has the same login, WebSocket authentication and
event shape, and nothing else. Both run under uvicorn with the same options;
one bare Locust loop (``locust_bench.py``, no checks) drives each in turn, in
interleaved trials (bare, canonical, bare, canonical, ...) so machine drift
falls on both alike, in two modes:

* persistent: each user logs in and connects once, then sends message after
  message (agent runs/s);
* per flow: login, connect, one message, close, for every flow (flows/s).

Goals: the canonical backend at >= 0.8 of the bare app's rate persistent, and
>= 0.7 per flow, with every check, isolation guarantee, audit record and metric
of the backend on.

    .venv/bin/python benchmarks/bench_backend.py [--users 50] [--seconds 12] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from loadtests.embedded import EmbeddedBackend

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOALS = {"persistent": 0.8, "bare": 0.7}
LABELS = {"persistent": "persistent sockets (agent runs/s)", "bare": "login + connect per flow"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bare_backend(users: int) -> Iterator[str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.bare_backend:app", "--host",
           "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
           "--ws-max-size", "65536", "--ws-max-queue", "16", "--ws-ping-interval", "20",
           "--ws-ping-timeout", "20"]  # fmt: skip
    env = dict(os.environ, BARE_USERS=str(users))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("the bare app did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def trial(url: str, mode: str, users: int, seconds: float) -> float:
    cmd = [sys.executable, str(HERE / "locust_bench.py"), "--host", url, "--user", mode,
           "--users", str(users), "--seconds", str(seconds)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=True)  # noqa: S603
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise SystemExit(f"{url} {mode}: {result['failures']} failed flows")
    return float(result["flows_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    rates: dict[tuple[str, str], list[float]] = {}
    with (
        bare_backend(args.users) as bare,
        # the same log level as the bare app: uvicorn's per-socket INFO lines off on both
        EmbeddedBackend(
            factory="canonical",
            users=args.users,
            port=_free_port(),
            settings={"log_level": "warning"},
        ) as canonical,
    ):
        for i in range(args.trials):
            for mode in ("persistent", "bare"):
                for name, url in (("bare app", bare), ("canonical", canonical.url)):
                    rate = trial(url, mode, args.users, args.seconds)
                    rates.setdefault((mode, name), []).append(rate)
                    print(f"trial {i + 1} {mode:<10} {name:<9} {rate:8.1f}/s",
                          file=sys.stderr, flush=True)  # fmt: skip
    print(f"{args.users} users, {args.seconds:g} s per trial, {args.trials} interleaved trials "
          f"(medians); {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}")  # fmt: skip
    ok = True
    for mode, goal in GOALS.items():
        bare_rate = statistics.median(rates[(mode, "bare app")])
        ours = statistics.median(rates[(mode, "canonical")])
        ratio = ours / bare_rate
        ok &= ratio >= goal
        print(f"{LABELS[mode]:<36} bare {bare_rate:8.1f}/s  canonical {ours:8.1f}/s  "
              f"ratio {ratio:.2f} (goal >= {goal})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
