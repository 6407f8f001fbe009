"""The analysis benchmark script runs (on a small input; the real figure is make bench's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_analysis.py"


def test_bench_script_small() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "20000", "--repeat", "1", "--report", "yes"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "# analysis of 2 x 20,000 rows" in out
    assert "load+summarize+compare:" in out and "peak RSS" in out
    assert "reference read_table(name, ms) + numpy.percentile per name" in out
    assert "ratio:" in out and "verdict on a +20 ms candidate: worse" in out
    assert "goldenpath report (md, html, plots):" in out and "exit 0" in out
