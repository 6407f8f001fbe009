"""Comparisons: noise is not a regression, a real slowdown is, defects are zero-tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.compare import (
    BETTER,
    INCONCLUSIVE,
    SAME,
    WORSE,
    Thresholds,
    bootstrap_quantile,
    compare,
    mann_whitney_p,
)
from analysis.load import load_group, load_run
from analysis.summarize import summarize
from tests.analysis.conftest import MakeRun

SAME_BUILD = {"n": 5000, "duration_s": 40.0, "failure_rate": 0.01, "warmup_s": 4.0}


@pytest.mark.parametrize("pair", range(4))
def test_same_build_pairs_show_no_change(make_run: MakeRun, pair: int) -> None:
    a = load_run(make_run("a", seed=10 * pair, **SAME_BUILD))
    b = load_run(make_run("b", seed=10 * pair + 1, **SAME_BUILD))
    c = compare(a, b)
    assert c.verdict == SAME, c.headline
    assert not c.metrics["verdict"].isin([WORSE, BETTER]).any()
    assert c.metric("golden_path", "p50")["verdict"] == SAME


def test_slowdown_of_20ms_is_worse(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, **SAME_BUILD))
    b = load_run(make_run("b", seed=2, shift_ms=20.0, **SAME_BUILD))
    # +20 ms on a ~180 ms golden path is +11%: one run a side cannot tell that from
    # run-to-run drift (5% assumed), so the default calls it inconclusive ...
    assert compare(a, b).metric("golden_path", "p50")["verdict"] == INCONCLUSIVE
    # ... and a machine trusted to repeat itself exactly (synthetic runs) calls it worse.
    lab = Thresholds(single_run_cv=0)
    c = compare(a, b, thresholds=lab)
    assert c.verdict == WORSE
    row = c.metric("golden_path", "p50")
    assert row["verdict"] == WORSE
    assert row["change_lo"] > 0.05 and row["diff"] == pytest.approx(20, abs=5)
    assert c.metric("login", "p50")["verdict"] == SAME  # login is untouched
    assert c.headline.startswith("Worse - worse: golden_path p50 +")
    # and the other way round it is an improvement
    assert compare(b, a, thresholds=lab).verdict == BETTER


def test_legacy_vs_canonical_defects(baselines: dict[str, Path]) -> None:
    legacy, canonical = load_group(baselines["legacy"]), load_group(baselines["canonical"])
    c = compare(legacy, canonical)
    iso = c.metric("all", "isolation violations")
    closes = c.metric("all", "1011 closes")
    assert iso["count_baseline"] > 0 and iso["count_candidate"] == 0
    assert closes["count_baseline"] > 0 and closes["count_candidate"] == 0
    assert iso["verdict"] == closes["verdict"] == BETTER
    assert c.verdict == BETTER
    # reversed, the defects make the candidate worse, however few they are
    assert compare(canonical, legacy).verdict == WORSE


def test_groups_use_run_to_run_variation(tmp_path: Path, make_run: MakeRun) -> None:
    for i in range(3):
        make_run(f"base/run-{i}", seed=i, n=4000)
        make_run(f"same/run-{i}", seed=10 + i, n=4000)
        make_run(f"slow/run-{i}", seed=20 + i, n=4000, shift_ms=20.0)
    base = summarize(load_group(tmp_path / "base"))
    assert compare(base, load_group(tmp_path / "same")).verdict == SAME
    c = compare(base, load_group(tmp_path / "slow"))
    assert c.verdict == WORSE
    # the interval carries the between-run variance: wider than a pooled bootstrap's
    pooled = compare(
        load_run(make_run("one-a", seed=0, n=12000)),
        load_run(make_run("one-b", seed=1, n=12000)),
        thresholds=Thresholds(single_run_cv=0),
    )
    width = lambda r: r["change_hi"] - r["change_lo"]  # noqa: E731
    assert width(c.metric("golden_path", "p50")) > 0.5 * width(pooled.metric("golden_path", "p50"))


def test_too_few_samples_is_inconclusive(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, n=100))
    b = load_run(make_run("b", seed=2, n=100, shift_ms=5.0))
    c = compare(a, b, warmup="none")
    row = c.metric("golden_path", "p99.9")
    assert row["verdict"] == INCONCLUSIVE
    assert row["more_samples"] > 3000
    assert "more samples" not in c.headline or c.verdict == INCONCLUSIVE


def test_mann_whitney_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    b = np.sort(np.round(rng.lognormal(3, 0.4, 2000), 1))  # rounded: many ties
    c = np.sort(np.round(rng.lognormal(3.02, 0.4, 1500), 1))
    expected = stats.mannwhitneyu(c, b, alternative="two-sided", method="asymptotic").pvalue
    assert mann_whitney_p(b, c) == pytest.approx(expected, rel=1e-6)


def test_bootstrap_of_the_median_matches_resampling() -> None:
    rng = np.random.default_rng(5)
    x = np.sort(rng.exponential(size=501))
    fast = bootstrap_quantile(x, 0.5, 20000, rng)
    slow = np.array([np.sort(rng.choice(x, x.size))[250] for _ in range(2000)])
    assert np.mean(fast) == pytest.approx(np.mean(slow), rel=0.02)
    assert np.std(fast) == pytest.approx(np.std(slow), rel=0.1)
