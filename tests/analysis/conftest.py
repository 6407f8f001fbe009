"""Fixtures for the analysis tests: synthetic results directories on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.utils.synth import MakeRun, write_run


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Write a synthetic run under tmp_path: ``make_run("name", seed=1, ...)``."""

    def _make(name: str, **params: Any) -> Path:
        params.setdefault("n", 3000)
        params.setdefault("duration_s", 30.0)
        return write_run(tmp_path / name, **params)

    return _make


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two groups of repeated runs, legacy (with defects) and canonical, as the harness lays out."""
    root = tmp_path_factory.mktemp("baselines")
    for i in range(2):
        write_run(
            root / "legacy" / f"run-{i}",
            seed=100 + i,
            n=3000,
            duration_s=30.0,
            factory_mode="legacy",
            isolation_violations=4,
            closes_1011=3,
            failure_rate=0.005,
            warmup_s=5.0,
        )
        write_run(
            root / "canonical" / f"run-{i}",
            seed=200 + i,
            n=3000,
            duration_s=30.0,
            factory_mode="canonical",
            failure_rate=0.005,
            warmup_s=5.0,
        )
    return {"legacy": root / "legacy", "canonical": root / "canonical"}
