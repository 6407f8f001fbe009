"""Batch means: a slow spell inside one run is not a regression, a change in every block is.

Rows of one run are not independent. A neighbour's burst of a few seconds moves a
whole run's p90 by tens of percent; calibrated run-to-run noise, measured on quiet
runs, does not cover it. The spread of a percentile between a run's time blocks
does, so a run whose blocks disagree is judged by that spread.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.compare import BETTER, INCONCLUSIVE, WORSE, Thresholds, compare
from analysis.load import load_run
from analysis.quantiles import BIN_MS, BLOCKS, N_BINS, block_bootstrap, block_histograms
from analysis.summarize import summarize
from tests.utils.synth import MakeRun, flat_calibration

QUIET = flat_calibration(0.02)  # runs of one build agree within about 2%
RUN = {"n": 5000, "duration_s": 40.0, "warmup_s": 0.0}
SPELL = (20.0, 4.0, 3.0)  # 4 s of a 40 s run three times as slow


def test_blocks_are_equal_times_of_the_steady_state() -> None:
    ticks = np.repeat(np.arange(200, 1200), 3)  # 3 rows a tick after the cut at tick 200
    ms = (1 + (ticks - 200) // 100).astype(float)  # block j (100 ticks) is j + 1 ms
    hist = block_histograms(ms, ticks, 200, 1200)
    assert hist.shape == (BLOCKS, N_BINS) and hist.sum() == ms.size
    assert list(hist.sum(axis=1)) == [300] * BLOCKS
    for j in range(BLOCKS):  # each block's rows in the bin of its latency, 0.5% wide
        (only,) = np.flatnonzero(hist[j])
        assert BIN_MS[only] == pytest.approx(j + 1, rel=0.003)


def test_the_block_bootstrap_resamples_blocks_within_each_run() -> None:
    rng = np.random.default_rng(0)
    ticks = np.repeat(np.arange(1000), 10)
    steady = block_histograms(np.full(ticks.size, 20.0), ticks, 0, 1000)
    draws, blocks = block_bootstrap([steady], [0.5, 0.9], 500, rng)
    assert blocks == BLOCKS and draws.shape == (500, 2)
    assert np.ptp(draws) == 0 and np.exp(draws[0, 0]) == pytest.approx(20, rel=0.003)
    # one block in ten three times as slow: p90 is 60 ms when that block is drawn twice or
    # more, 20 ms when it is not drawn at all (0.9^10 = 35% of the time)
    ms = np.where(ticks // 100 == 4, 60.0, 20.0)
    spell = block_bootstrap([block_histograms(ms, ticks, 0, 1000)], [0.9], 4000, rng)[0][:, 0]
    assert np.mean(np.exp(spell) < 21) == pytest.approx(0.9**10, abs=0.03)
    # a group: blocks are drawn within each run, so a steady run stays in every draw
    group = block_bootstrap([steady, steady], [0.5], 100, rng)[0]
    assert np.ptp(group) == 0


def test_a_slow_spell_in_one_run_is_not_a_regression(make_run: MakeRun) -> None:
    a = summarize(load_run(make_run("a", seed=1, **RUN)))
    b = summarize(load_run(make_run("b", seed=2, slow_spell=SPELL, **RUN)))
    c = compare(a, b, calibration=QUIET)
    p90 = c.metric("golden_path", "p90")
    assert p90["change"] > 0.15, p90.to_dict()  # the spell moves the whole run's p90
    assert not c.metrics["verdict"].isin([WORSE, BETTER]).any(), c.headline
    assert p90["verdict"] == INCONCLUSIVE
    assert "time blocks" in p90["note"], p90["note"]
    # rows alone (the rule before): calibrated quiet-run noise calls the spell a regression
    blind = compare(a, b, calibration=QUIET, thresholds=Thresholds(time_blocks=False))
    assert blind.verdict == WORSE, blind.headline


def test_a_change_in_every_block_is_worse_with_or_without_a_spell(make_run: MakeRun) -> None:
    a = summarize(load_run(make_run("a", seed=1, **RUN)))
    b = summarize(load_run(make_run("b", seed=3, shift_ms=40.0, **RUN)))
    c = compare(a, b, calibration=QUIET)
    assert c.verdict == WORSE, c.headline
    row = c.metric("golden_path", "p50")
    assert row["verdict"] == WORSE and row["noise_df"] == 20, row.to_dict()
    # the same change in a run that also had a slow spell is still worse at p50: the
    # spell moves the median of one block in ten, the change moves all ten
    spelled = summarize(load_run(make_run("c", seed=3, shift_ms=40.0, slow_spell=SPELL, **RUN)))
    c = compare(a, spelled, calibration=QUIET)
    assert c.metric("golden_path", "p50")["verdict"] == WORSE, c.headline
