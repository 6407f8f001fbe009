"""Warm-up detection: MSER-5 cuts a ramp, leaves a steady run alone."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.load import as_group, load_run
from analysis.steady import mser_truncation, parse_warmup, warmup_cuts
from tests.utils.synth import MakeRun


def test_mser_on_a_step() -> None:
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(10, 1, 100), rng.normal(5, 1, 400)])
    cut = mser_truncation(y)
    assert 90 <= cut <= 115


@pytest.mark.parametrize("seed", range(5))
def test_mser_leaves_a_flat_series(seed: int) -> None:
    y = np.random.default_rng(seed).normal(5, 1, 500)
    assert mser_truncation(y) == 0


@pytest.mark.parametrize("seed", range(3))
def test_detects_the_ramp(make_run: MakeRun, seed: int) -> None:
    steady = as_group(load_run(make_run(f"s{seed}", seed=seed, n=6000))).events
    ramp = as_group(load_run(make_run(f"r{seed}", seed=seed, n=6000, warmup_s=8.0))).events
    assert warmup_cuts(steady)[f"s{seed}"].cut_s == 0.0
    cut = warmup_cuts(ramp)[f"r{seed}"]
    assert 5.0 <= cut.cut_s <= 11.0
    assert "MSER" in cut.rule


def test_parse_warmup() -> None:
    assert parse_warmup("auto") == "auto"
    assert parse_warmup("none") == "none"
    assert parse_warmup("12.5s") == 12.5
    assert parse_warmup("1m") == 60 and parse_warmup("500ms") == 0.5  # the one syntax
    assert parse_warmup("0") == 0  # no cut
    for bad in ("-3", "nan", "inf", "ten"):
        with pytest.raises(ValueError, match="warmup"):
            parse_warmup(bad)
