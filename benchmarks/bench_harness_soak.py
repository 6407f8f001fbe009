"""The load generator's own memory over a long full-rate run: RSS per million rows written.

Starts ``goldenpath run`` (one Locust process, persistent sockets, the embedded
canonical backend thinking 0 ms, so agent runs go as fast as this machine
allows) for ``--duration``, and every ``--every`` seconds reads the runner's
``VmRSS`` (its PID, from /proc) and the rows written so far (the row counts in
the footers of ``events/part-*.parquet``; the recorder flushes a part every
second). After the warm-up fraction, a least-squares line through RSS vs rows
gives the growth in KiB per million rows. Reference in the same run: that
growth as a percentage of the post-warm-up RSS. Also reported: the peak RSS of
the runner while it merges the parts into ``events.parquet`` at the end.

Bounded: the run stops itself at ``--duration``; this script ends the runner
(by its PID) at ``--duration`` + 5 minutes whatever happens.

    .venv/bin/python benchmarks/bench_harness_soak.py [--duration 30m] [--users 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resultsformat.duration import parse_duration  # noqa: E402

GRACE_S = 300.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"bench_harness_soak: error: {message}\n")


def rss_kib(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in KiB, None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class RowCounter:
    """Rows in the part files so far; each part's footer is read once (parts do not change)."""

    def __init__(self, out: Path) -> None:
        self.parts = out / "events"
        self.seen: dict[str, int] = {}

    def rows(self) -> int:
        if self.parts.is_dir():
            for part in self.parts.glob("part-*.parquet"):
                if part.name not in self.seen:
                    try:
                        self.seen[part.name] = pq.read_metadata(part).num_rows
                    except (OSError, ValueError):
                        pass  # being renamed into place, or merged away: next sample
        return sum(self.seen.values())


def fit(rows: np.ndarray, rss: np.ndarray) -> tuple[float, float]:
    """Slope of RSS (KiB) per million rows and its standard error."""
    x = rows / 1e6
    a = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(a, rss, rcond=None)
    dof = max(1, x.size - 2)
    sigma2 = float(res[0]) / dof if res.size else 0.0
    sxx = float(((x - x.mean()) ** 2).sum())
    return float(coef[0]), float(np.sqrt(sigma2 / sxx)) if sxx > 0 else float("nan")


def main() -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="30m", help="load time (default 30m)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users (default 50)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--warmup", type=float, default=0.2, help="fraction of the run left out of the fit"
    )
    args = parser.parse_args()
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        parser.error(f"--duration: {exc}")
    if args.users < 1 or args.every <= 0 or not 0 <= args.warmup < 1:
        parser.error("--users >= 1, --every > 0 and 0 <= --warmup < 1")

    with tempfile.TemporaryDirectory(prefix="bench-harness-soak-") as tmp:
        out = Path(tmp) / "run"
        cmd = [
            sys.executable, "-m", "loadtests", "run",
            "--duration", f"{duration:g}s", "--users", str(args.users),
            "--connection", "persistent", "--backend-setting", "agent_think_ms=0",
            "--out", str(out), "--quiet",
        ]  # fmt: skip
        log = Path(tmp) / "runner.log"
        samples: list[tuple[float, int, int]] = []  # (seconds, rows, rss KiB)
        merge_peak = 0
        with log.open("wb") as fh:
            # SIGINT as the default, even when this script runs in the background (where the
            # shell ignores it): the runner ends cleanly on it, the backend included.
            proc = subprocess.Popen(  # noqa: S603
                cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
            )  # fmt: skip
        try:
            counter = RowCounter(out)
            t0 = time.monotonic()
            next_sample = t0 + args.every
            while proc.poll() is None:
                now = time.monotonic()
                if now - t0 > duration + GRACE_S:
                    print("the run did not stop by itself: ended at the bound", file=sys.stderr)
                    break
                rss = rss_kib(proc.pid)
                if rss is None:
                    break
                if now - t0 <= duration:
                    if now >= next_sample:
                        next_sample += args.every
                        rows = counter.rows()
                        samples.append((now - t0, rows, rss))
                        print(
                            f"  {now - t0:7.0f} s  {rows:>12,} rows  RSS {rss / 1024:7.1f} MiB",
                            file=sys.stderr,
                        )
                else:  # the load is over: the runner merges the parts
                    merge_peak = max(merge_peak, rss)
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        merged_rows = 0
        if (out / "events.parquet").is_file():
            merged_rows = pq.read_metadata(out / "events.parquet").num_rows
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]

    if proc.returncode != 0 or len(samples) < 5:
        print(f"bench_harness_soak: the run failed (exit {proc.returncode}):", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)
        return 1
    arr = np.array(samples, dtype=float)
    kept = arr[arr[:, 0] >= args.warmup * duration]
    slope, se = fit(kept[:, 1], kept[:, 2])
    base = kept[0, 2]
    rows_kept = kept[-1, 1] - kept[0, 1]
    growth = slope * rows_kept / 1e6
    print(
        f"# load generator soak ({platform.machine()}, {os.cpu_count()} cores, {args.users} "
        f"users, persistent sockets, {duration / 60:g} min)"
    )
    print(f"rows written: {int(arr[-1, 1]):,} ({arr[-1, 1] / arr[-1, 0]:,.0f} rows/s); merged: "
          f"{merged_rows:,}")  # fmt: skip
    print(
        f"runner RSS: {arr[0, 2] / 1024:.1f} MiB at {arr[0, 0]:.0f} s, {base / 1024:.1f} MiB "
        f"after warm-up, {arr[-1, 2] / 1024:.1f} MiB at the end of the load, "
        f"max {arr[:, 2].max() / 1024:.1f} MiB"
    )
    print(
        f"growth after warm-up: {slope:+.1f} +/- {se:.1f} KiB per million rows "
        f"({growth / 1024:+.1f} MiB over {rows_kept / 1e6:.1f} M rows = "
        f"{100 * growth / base:+.2f}% of the post-warm-up RSS)"
    )
    print(f"peak RSS while merging the parts: {merge_peak / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
