"""The analysis benchmark script runs (on a small input; the real figure is make bench's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_analysis.py"


def test_bench_script_small() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "20000", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "load+summarize+compare, 2 x 20,000 rows:" in proc.stdout
    assert "reference pd.read_parquet + numpy.percentile" in proc.stdout
    assert "ratio:" in proc.stdout and "verdict on a +20 ms candidate: worse" in proc.stdout
