"""Helpers for the gate's tests: the repository's paths and the gate run as a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "results" / "baselines"


def gate_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m analysis.gate.cli ARGS`` in a child process."""
    cmd = [sys.executable, "-m", "analysis.gate.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
