"""Regenerate ``results/baselines/``: real runs of the reference backend, legacy and canonical.

    python -m loadtests.baselines [--runs 3] [--out results/baselines] [-- RUN OPTIONS...]

Everything after ``--`` goes to ``goldenpath run`` unchanged (the scenario).

Runs are interleaved (legacy, canonical, legacy, ...) so drift of the machine
falls on both sides alike. Each run goes through ``goldenpath run`` in its own
process; the bulky files a reader of the baselines does not need (Locust's
HTML report and history CSV, the backend log) are then removed to keep git small.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

DROP = ("locust_report.html", "locust_stats_history.csv", "locust_exceptions.csv", "backend.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.baselines", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/baselines"))
    parser.add_argument(
        "run_options", nargs=argparse.REMAINDER, help="-- options for goldenpath run"
    )
    args = parser.parse_args(argv)
    run_options = [o for o in args.run_options if o != "--"]
    for mode in ("legacy", "canonical"):
        if (args.out / mode).exists():
            shutil.rmtree(args.out / mode)
    for i in range(1, args.runs + 1):
        for mode in ("legacy", "canonical"):
            out = args.out / mode / f"run-{i}"
            print(f"baseline {mode} {i}/{args.runs} -> {out}", file=sys.stderr, flush=True)
            cmd = [
                sys.executable,
                "-m",
                "loadtests.cli",
                "run",
                "--factory",
                mode,
                "--quiet",
                "--out",
                str(out),
                "--seed",
                str(i),
                *run_options,
            ]
            done = subprocess.run(cmd, check=False)  # noqa: S603
            if done.returncode != 0:
                print(f"baseline run {out} failed with {done.returncode}", file=sys.stderr)
                return 1
            for name in DROP:
                (out / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
