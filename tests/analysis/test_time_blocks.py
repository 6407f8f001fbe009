"""Time blocks: a slow spell inside one run is not a regression, a change in every block is.

Rows of one run are not independent. A neighbour's burst of a few seconds moves a
whole run's p90 by tens of percent; calibrated run-to-run noise, measured on quiet
runs, does not cover it. A block bootstrap of the run's time blocks, and the median of
a percentile over those blocks, do; each can only make a verdict less sure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import metric_rows
from analysis.compare import (
    BETTER,
    INCONCLUSIVE,
    NEGLIGIBLE,
    SAME,
    WORSE,
    Comparison,
    Thresholds,
    compare,
)
from analysis.load import load_group, load_run
from analysis.quantiles import (
    BIN_MS,
    BLOCKS,
    N_BINS,
    block_bootstrap,
    block_histograms,
    block_quantiles,
)
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
    done = block_bootstrap([steady], [0.5, 0.9], 500, rng)
    assert done is not None
    draws, df = done
    assert df == BLOCKS - 1 and draws.shape == (500, 2)
    assert np.ptp(draws) == 0 and np.exp(draws[0, 0]) == pytest.approx(20, rel=0.003)
    # one block in ten three times as slow: p90 is 20 ms only when that block is not
    # drawn at all (0.9^10 = 35% of the time)
    ms = np.where(ticks // 100 == 4, 60.0, 20.0)
    spell = block_bootstrap([block_histograms(ms, ticks, 0, 1000)], [0.9], 4000, rng)
    assert spell is not None
    assert np.mean(np.exp(spell[0][:, 0]) < 21) == pytest.approx(0.9**10, abs=0.03)
    # a group: blocks are drawn within each run, so a steady run stays in every draw; the
    # degrees of freedom add up over runs
    group = block_bootstrap([steady, steady], [0.5], 100, rng)
    assert group is not None and np.ptp(group[0]) == 0 and group[1] == 2 * (BLOCKS - 1)


def test_empty_blocks_are_never_drawn_and_a_side_without_blocks_has_none() -> None:
    rng = np.random.default_rng(1)
    ticks = np.repeat(np.arange(300), 10)  # rows in the first 3 of 10 blocks only
    hist = block_histograms(np.full(ticks.size, 20.0), ticks, 0, 1000)
    done = block_bootstrap([hist], [0.5, 0.99], 1000, rng)
    assert done is not None and done[1] == 2  # 3 blocks with rows
    assert np.exp(done[0]) == pytest.approx(20, rel=0.003)  # never an empty draw's max
    one = block_histograms(np.full(10, 5.0), np.zeros(10, np.int64), 0, 1000)
    assert block_bootstrap([one], [0.5], 10, rng) is None  # one block: nothing to resample
    assert block_bootstrap([np.zeros_like(hist)], [0.5], 10, rng) is None


def test_block_percentiles_are_numpy_linear_percentiles_to_the_bin() -> None:
    rng = np.random.default_rng(2)
    ticks = np.repeat(np.arange(1000), 20)
    ms = rng.lognormal(3, 0.5, ticks.size)
    qs = [0.5, 0.9, 0.99]
    got = block_quantiles(block_histograms(ms, ticks, 0, 1000), qs)
    want = np.array([np.quantile(ms[ticks // 100 == j], qs) for j in range(BLOCKS)])
    assert got == pytest.approx(want, rel=0.005)
    # with a gap between values, the interpolation matters: numpy gives 24 ms here
    gap = np.array([20.0] * 900 + [60.0] * 100)
    block = block_histograms(gap, np.zeros(gap.size, np.int64), 0, 1)
    assert block_quantiles(block, [0.9])[0, 0] == pytest.approx(np.quantile(gap, 0.9), rel=0.005)
    assert block_quantiles(np.zeros_like(block), [0.5]).shape == (0, 1)


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


def _latency(c: Comparison) -> pd.DataFrame:
    m = c.metrics
    return m[(m["section"] == "latency") & m["p_value"].notna()].set_index(["name", "metric"])


@pytest.mark.parametrize("case", ["same", "spell", "shift", "group"])
def test_time_blocks_never_make_a_row_more_sure(
    make_run: MakeRun, tmp_path: Path, case: str
) -> None:
    if case == "group":
        for i in range(2):
            make_run(f"ga/run-{i}", seed=20 + i, **RUN)
            make_run(f"gb/run-{i}", seed=30 + i, slow_spell=SPELL, shift_ms=10.0, **RUN)
        a, b = (summarize(load_group(tmp_path / g)) for g in ("ga", "gb"))
    else:
        extras: dict[str, dict[str, Any]] = {
            "spell": {"slow_spell": SPELL},
            "shift": {"shift_ms": 15.0},
        }
        extra = extras.get(case, {})
        a = summarize(load_run(make_run("a", seed=5, **RUN)))
        b = summarize(load_run(make_run("b", seed=6, **RUN, **extra)))
    new = _latency(compare(a, b, calibration=QUIET))
    old = _latency(compare(a, b, calibration=QUIET, thresholds=Thresholds(time_blocks=False)))
    assert (new["p_value"] >= old["p_value"] - 1e-12).all()
    assert (new["change_lo"] <= old["change_lo"] + 1e-12).all()
    assert (new["change_hi"] >= old["change_hi"] - 1e-12).all()


def test_each_block_rule_alone_keeps_the_spell_from_being_worse(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = summarize(load_run(make_run("a", seed=1, **RUN)))
    b = summarize(load_run(make_run("b", seed=2, slow_spell=SPELL, **RUN)))
    with monkeypatch.context() as m:  # the block bootstrap alone
        m.setattr(metric_rows, "MIN_TEST_BLOCKS", 10**9)
        c = compare(a, b, calibration=QUIET)
        assert not c.metrics["verdict"].isin([WORSE, BETTER]).any(), c.headline
    with monkeypatch.context() as m:  # the median over time blocks alone
        m.setattr(metric_rows, "block_variance", lambda sides: None)
        c = compare(a, b, calibration=QUIET)
        assert not c.metrics["verdict"].isin([WORSE, BETTER]).any(), c.headline


def test_runs_with_no_steady_rows_for_a_name_compare_without_error(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, **RUN))
    b = load_run(make_run("b", seed=2, **RUN))
    c = compare(summarize(a, warmup=100.0), summarize(b))  # the cut falls after the run ends
    assert c.verdict in (INCONCLUSIVE, WORSE, BETTER, SAME, NEGLIGIBLE)
