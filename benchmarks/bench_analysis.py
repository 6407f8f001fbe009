"""Benchmark: load + summarize + compare two runs of 1,000,000 rows each.

Writes two synthetic results directories (schema_version 1; the candidate is
20 ms slower), then times, with ``time.perf_counter``:

* the analysis: ``load_run`` x2, ``summarize`` x2 (automatic warm-up detection,
  exact percentiles with order-statistic intervals), ``compare`` (bootstrap
  intervals, Mann-Whitney U, Kolmogorov-Smirnov, verdicts);
* a reference in the same process on the same files: ``pd.read_parquet`` x2 and
  ``numpy.percentile`` of ``ms`` per request name (p50/p90/p95/p99/p99.9);

and prints both figures and their ratio. Target: the analysis under 5 s.

    .venv/bin/python benchmarks/bench_analysis.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.compare import compare  # noqa: E402
from analysis.load import load_run  # noqa: E402
from analysis.summarize import summarize  # noqa: E402
from tests.analysis.synth import flat_calibration, write_run  # noqa: E402

TARGET_S = 5.0


# Synthetic runs differ only by sampling: as a machine whose runs agree within 2% would.
QUIET = flat_calibration(0.02)


def analysis(a: Path, b: Path) -> str:
    sa = summarize(load_run(a))
    sb = summarize(load_run(b))
    return compare(sa, sb, calibration=QUIET).verdict.value


def reference(a: Path, b: Path) -> None:
    for path in (a, b):
        df = pd.read_parquet(path / "events.parquet")
        for _, ms in df.groupby("name", observed=True)["ms"]:
            np.percentile(ms.to_numpy(), [50, 90, 95, 99, 99.9])


def best_of(fn: object, repeat: int, *args: Path) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        t0 = time.perf_counter()
        common = {"n": args.rows, "duration_s": 600.0, "users": 200, "failure_rate": 0.002}
        a = write_run(Path(tmp) / "baseline", seed=1, warmup_s=30.0, **common)
        b = write_run(Path(tmp) / "candidate", seed=2, warmup_s=30.0, shift_ms=20.0, **common)
        print(f"generated 2 x {args.rows:,} rows in {time.perf_counter() - t0:.1f} s")
        verdict = analysis(a, b)  # warm caches and imports once, untimed
        ours = best_of(analysis, args.repeat, a, b)
        ref = best_of(reference, args.repeat, a, b)
    print(f"load+summarize+compare, 2 x {args.rows:,} rows: {ours:.2f} s (best of {args.repeat})")
    print(f"reference pd.read_parquet + numpy.percentile per name: {ref:.2f} s")
    print(f"ratio: {ours / ref:.1f}x the reference; verdict on a +20 ms candidate: {verdict}")
    ok = ours < TARGET_S
    print(f"target < {TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
