"""Fixtures for the gate tests: committed baselines, SLO files, synthetic runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.analysis.synth import write_run

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "results" / "baselines"

MakeRun = Callable[..., Path]


def gate_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m analysis.gate.cli ARGS`` in a child process."""
    cmd = [sys.executable, "-m", "analysis.gate.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Write a synthetic run under tmp_path: ``make_run("name", seed=1, ...)``."""

    def _make(name: str, **params: Any) -> Path:
        params.setdefault("n", 5000)
        params.setdefault("duration_s", 30.0)
        return write_run(tmp_path / name, **params)

    return _make


@pytest.fixture
def slo_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write an SLO file's text under tmp_path and return its path."""

    def _write(text: str, name: str = "slo.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
