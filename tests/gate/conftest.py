"""Fixtures for the gate tests: committed baselines, SLO files, synthetic runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.utils.synth import MakeRun, write_run


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
