"""Benchmark: load + summarize + compare two runs, and ``goldenpath report`` on them.

Writes two synthetic results directories of ``--rows`` rows each (schema_version 2,
600 s long with a 30 s ramp; the candidate is 20 ms slower), a few million rows at a
time so the writer's memory stays bounded. Then, each in a fresh process whose peak
RSS (the child's own ``ru_maxrss``, printed on its stderr) is measured:

* the analysis: ``load_run`` x2 (lazy), ``summarize`` x2 (automatic warm-up
  detection, exact percentiles with order-statistic intervals), ``compare``
  (bootstrap intervals, Mann-Whitney U, Kolmogorov-Smirnov, verdicts), best of
  ``--repeat``;
* ``goldenpath report --baseline A --candidate B``: the same, plus report.md, report.html and
  its plots (``--report``, on by default at 10M rows and above);
* a reference on the same files: ``pyarrow.parquet.read_table`` of ``name`` and ``ms``
  and ``numpy.percentile`` of ``ms`` per name (p50/p90/p95/p99/p99.9), best of
  ``--repeat``.

Limits from issue 17, checked at 50M rows a side and above: 60 s and 4 GB
(4,000,000,000 bytes) peak RSS for the analysis and for the report. Below that the
1M-row figure is compared with 1.2 s, its figure before streaming.

    .venv/bin/python benchmarks/bench_analysis.py [--rows 1000000] [--repeat 3]
    .venv/bin/python benchmarks/bench_analysis.py --rows 50000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_S = 60.0
LIMIT_BYTES = 4_000_000_000
BIG = 50_000_000
SMALL_TARGET_S = 1.2
CHUNK = 5_000_000
DURATION_S = 600.0
WARMUP_S = 30.0


# --- the pieces, each run in a process of its own ------------------------------------


def generate(path: Path, rows: int, seed: int, shift_ms: float) -> None:
    """Write one run of ``rows`` rows, ``CHUNK`` rows (one time slice) at a time."""
    import pyarrow.parquet as pq

    from resultsformat import SCHEMA
    from tests.utils.synth import START_US, make_events, make_meta

    path.mkdir(parents=True)
    chunks = max(1, -(-rows // CHUNK))
    span = DURATION_S / chunks
    with pq.ParquetWriter(path / "events.parquet", SCHEMA) as writer:
        for k in range(chunks):
            n = min(CHUNK, rows - k * CHUNK)
            # The ramp is in the first slice only; later slices are steady.
            warm = min(WARMUP_S, span) if k == 0 else 0.0
            table = make_events(
                seed=seed * 1000 + k, n=n, duration_s=span, users=200,
                failure_rate=0.002, warmup_s=warm, shift_ms=shift_ms,
            )  # fmt: skip
            offset = round(k * span * 1e6)
            ts = table.column("ts").cast("int64").to_numpy() + offset
            table = table.set_column(0, "ts", _ts(ts))
            writer.write_table(table, row_group_size=1 << 20)
    meta = make_meta(run_id=f"bench-{path.name}", duration_s=DURATION_S, rows=rows, users=200)
    (path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert START_US > 0, "the synthetic runs start at a fixed instant"


def _ts(us: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(us, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def analyse(a: Path, b: Path) -> dict[str, Any]:
    from analysis.compare import compare
    from analysis.load import load_run
    from analysis.summarize import summarize
    from tests.utils.synth import flat_calibration

    t0 = time.perf_counter()
    sa = summarize(load_run(a))
    sb = summarize(load_run(b))
    # Synthetic runs differ only by sampling: as a machine whose runs agree within 2% would.
    verdict = compare(sa, sb, calibration=flat_calibration(0.02)).verdict.value
    return {"seconds": time.perf_counter() - t0, "verdict": verdict}


def reference(a: Path, b: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    for path in (a, b):
        table = pq.read_table(path / "events.parquet", columns=["name", "ms"],
                              read_dictionary=["name"])  # fmt: skip
        df = table.to_pandas()
        for _, ms in df.groupby("name", observed=True)["ms"]:
            np.percentile(ms.to_numpy(), [50, 90, 95, 99, 99.9])
    return {"seconds": time.perf_counter() - t0}


# --- the driver ------------------------------------------------------------------------


def in_child(args: list[str], timeout_s: float) -> tuple[dict[str, Any], float, int]:
    """Run this script (or a command) in a child; its JSON line, wall seconds, peak RSS."""
    cmd = args if args[0] != "--piece" else [sys.executable, __file__, *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)  # noqa: S603
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode()[-2000:]}")
    peak = int(json.loads(err.decode().strip().splitlines()[-1])["maxrss_kib"]) * 1024
    lines = out.decode().strip().splitlines()
    return (json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}), wall, peak


def piece(argv: list[str]) -> int:
    """``--piece NAME ARGS``: one measured piece; its result on stdout, its RSS on stderr."""
    import resource

    name, rest = argv[0], argv[1:]
    if name == "generate":
        generate(Path(rest[0]), int(rest[1]), int(rest[2]), float(rest[3]))
        result: dict[str, Any] = {}
    elif name == "analyse":
        result = analyse(Path(rest[0]), Path(rest[1]))
    elif name == "reference":
        result = reference(Path(rest[0]), Path(rest[1]))
    elif name == "report":
        from analysis.cli import report_main

        t0 = time.perf_counter()
        argv = ["--baseline", rest[0], "--candidate", rest[1], "--out", rest[2]]
        code = report_main([*argv, "--progress", "never"])
        result = {"seconds": time.perf_counter() - t0, "exit": code}
    else:
        raise SystemExit(f"bench_analysis: unknown piece {name!r}")
    print(json.dumps(result))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"maxrss_kib": peak}), file=sys.stderr)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--piece"]:
        return piece(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--report", choices=("auto", "yes", "no"), default="auto",
                        help="also time goldenpath report (auto: from 10M rows)")  # fmt: skip
    args = parser.parse_args()
    if args.rows < 1000 or args.repeat < 1:
        parser.error("--rows >= 1000 and --repeat >= 1")
    big = args.rows >= BIG
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        a, b = Path(tmp) / "baseline", Path(tmp) / "candidate"
        t0 = time.perf_counter()
        in_child(["--piece", "generate", str(a), str(args.rows), "1", "0"], 3600)
        in_child(["--piece", "generate", str(b), str(args.rows), "2", "20"], 3600)
        print(f"generated 2 x {args.rows:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        runs = [in_child(["--piece", "analyse", str(a), str(b)], 1800) for _ in range(args.repeat)]
        ours = min(r[0]["seconds"] for r in runs)
        ours_rss = max(r[2] for r in runs)
        verdict = runs[0][0]["verdict"]
        refs = [in_child(["--piece", "reference", str(a), str(b)], 1800)
                for _ in range(args.repeat)]  # fmt: skip
        ref = min(r[0]["seconds"] for r in refs)
        ref_rss = max(r[2] for r in refs)
        report = None
        if args.report == "yes" or (args.report == "auto" and args.rows >= 10_000_000):
            out = Path(tmp) / "report"
            report = in_child(["--piece", "report", str(a), str(b), str(out)], 1800)
    gb = 1e9
    print(f"# analysis of 2 x {args.rows:,} rows ({platform.machine()}, {os.cpu_count()} cores)")
    print(f"load+summarize+compare: {ours:.2f} s (best of {args.repeat}), "
          f"peak RSS {ours_rss / gb:.2f} GB")  # fmt: skip
    print(f"reference read_table(name, ms) + numpy.percentile per name: {ref:.2f} s, "
          f"peak RSS {ref_rss / gb:.2f} GB")  # fmt: skip
    print(f"ratio: {ours / ref:.1f}x the reference's time; verdict on a +20 ms candidate: "
          f"{verdict}")  # fmt: skip
    ok = True
    if report is not None:
        seconds = report[1]
        print(f"goldenpath report (md, html, plots): {seconds:.1f} s wall, "
              f"peak RSS {report[2] / gb:.2f} GB, exit {report[0].get('exit')}")  # fmt: skip
        if big:
            ok &= seconds <= LIMIT_S and report[2] <= LIMIT_BYTES
    if big:
        ok &= ours <= LIMIT_S and ours_rss <= LIMIT_BYTES
        print(f"limits at >= {BIG:,} rows: {LIMIT_S:.0f} s and {LIMIT_BYTES / gb:.0f} GB: "
              f"{'met' if ok else 'NOT met'}")  # fmt: skip
    elif args.rows == 1_000_000:
        ok &= ours <= SMALL_TARGET_S
        print(f"target at 1M rows: <= {SMALL_TARGET_S} s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
