"""Comparisons: noise is not a regression, a real slowdown is, defects are zero-tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.calibration import Calibration
from analysis.compare import (
    BETTER,
    INCONCLUSIVE,
    NEGLIGIBLE,
    SAME,
    WORSE,
    Verdict,
    bootstrap_quantile,
    compare,
    mann_whitney_p,
)
from analysis.load import load_group, load_run
from analysis.summarize import summarize
from tests.utils.synth import MakeRun
from tests.utils.synth import flat_calibration as calibration

SAME_BUILD = {"n": 5000, "duration_s": 40.0, "failure_rate": 0.01, "warmup_s": 4.0}


QUIET = calibration(0.02)  # a machine whose runs of one build agree within about 2%
NOISY = calibration(0.3)  # ... within about 30%


@pytest.mark.parametrize("pair", range(4))
def test_same_build_pairs_are_never_worse_or_better(make_run: MakeRun, pair: int) -> None:
    a = load_run(make_run("a", seed=10 * pair, **SAME_BUILD))
    b = load_run(make_run("b", seed=10 * pair + 1, **SAME_BUILD))
    c = compare(a, b, calibration=QUIET)
    assert not c.metrics["verdict"].isin([WORSE, BETTER]).any(), c.headline
    # one run a side on a 2% machine cannot rule out 5%: undecided, never a change ...
    assert c.verdict in (SAME, NEGLIGIBLE, INCONCLUSIVE), c.headline
    # ... where runs of one build agree within 0.5%, it is no detectable change
    tight = compare(a, b, calibration=calibration(0.005, df=50))
    assert tight.metric("golden_path", "p50")["verdict"] in (SAME, NEGLIGIBLE), tight.headline


def test_slowdown_of_20ms_is_worse_beyond_calibrated_noise(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, **SAME_BUILD))
    b = load_run(make_run("b", seed=2, shift_ms=20.0, **SAME_BUILD))
    # +20 ms on a ~180 ms golden path is +11%: beyond what runs of one build do here ...
    c = compare(a, b, calibration=QUIET)
    assert c.verdict == WORSE
    row = c.metric("golden_path", "p50")
    assert row["verdict"] == WORSE
    assert row["change_lo"] > 0.05 and row["diff"] == pytest.approx(20, abs=5)
    assert row["noise"] == pytest.approx(0.02) and row["noise_df"] == 20
    assert c.metric("login", "p50")["verdict"] not in (WORSE, BETTER)  # login is untouched
    assert c.headline.startswith("Worse: golden_path p50 +")
    # and the other way round it is an improvement
    assert compare(b, a, calibration=QUIET).verdict == BETTER
    # ... but not on a machine whose runs of one build differ by 30%: it could be noise
    noisy = compare(a, b, calibration=NOISY)
    row = noisy.metric("golden_path", "p50")
    assert row["verdict"] == INCONCLUSIVE and noisy.verdict == INCONCLUSIVE
    assert row["more_runs"] >= 1 and "runs" in noisy.notes[0]
    # ... and with no calibration at all, one run a side shows no run-to-run noise
    blind = compare(a, b, calibration=Calibration())
    row = blind.metric("golden_path", "p50")
    assert row["verdict"] == INCONCLUSIVE and "run-to-run noise unknown" in row["note"]
    assert not blind.metrics["verdict"].isin([WORSE, BETTER]).any()


def test_legacy_vs_canonical_defects(baselines: dict[str, Path]) -> None:
    legacy, canonical = load_group(baselines["legacy"]), load_group(baselines["canonical"])
    c = compare(legacy, canonical, calibration=QUIET)
    iso = c.metric("all", "isolation violations")
    closes = c.metric("all", "1011 closes")
    assert iso["count_baseline"] > 0 and iso["count_candidate"] == 0
    assert closes["count_baseline"] > 0 and closes["count_candidate"] == 0
    assert iso["verdict"] == closes["verdict"] == BETTER
    assert c.verdict == BETTER
    # reversed, the defects make the candidate worse, however few they are
    assert compare(canonical, legacy, calibration=QUIET).verdict == WORSE


def test_groups_measure_their_own_run_to_run_noise(tmp_path: Path, make_run: MakeRun) -> None:
    for i in range(3):
        make_run(f"base/run-{i}", seed=i, n=4000)
        make_run(f"same/run-{i}", seed=10 + i, n=4000)
        make_run(f"slow/run-{i}", seed=20 + i, n=4000, shift_ms=20.0)
    base = summarize(load_group(tmp_path / "base"))
    none = Calibration()  # repeated runs alone
    same = compare(base, load_group(tmp_path / "same"), calibration=none)
    assert not same.metrics["verdict"].isin([WORSE, BETTER]).any(), same.headline
    c = compare(base, load_group(tmp_path / "slow"), calibration=none)
    assert c.verdict == WORSE
    row = c.metric("golden_path", "p50")
    assert row["noise_df"] == 4  # (3 - 1) runs a side
    # a noisy calibration pooled in widens the interval
    wider = compare(base, load_group(tmp_path / "slow"), calibration=NOISY)
    width = lambda r: r["change_hi"] - r["change_lo"]  # noqa: E731
    assert width(wider.metric("golden_path", "p50")) > width(row)


def test_a_significant_change_below_the_threshold_is_negligible(make_run: MakeRun) -> None:
    # +2 ms on ~180 ms (about +1%) on a machine that repeats itself within 0.2%: real, small
    a = load_run(make_run("a", seed=1, n=40000))
    b = load_run(make_run("b", seed=2, n=40000, shift_ms=2.0))
    c = compare(a, b, calibration=calibration(0.002, df=50))
    row = c.metric("golden_path", "p50")
    assert row["verdict"] == NEGLIGIBLE, row
    assert row["change_lo"] > 0 and row["change"] < 0.05
    assert "below the practical threshold" in row["note"]


def test_no_detectable_change_only_when_the_interval_includes_zero(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=3, **SAME_BUILD))
    for seed, shift in ((4, 0.0), (5, 2.0), (6, 20.0)):
        b = load_run(make_run(f"b{seed}", seed=seed, shift_ms=shift, **SAME_BUILD))
        for cal in (QUIET, NOISY):
            m = compare(a, b, calibration=cal).metrics
            latency = m[(m["section"] == "latency") & (m["verdict"] == SAME)]
            assert ((latency["change_lo"] <= 0) & (latency["change_hi"] >= 0)).all()
            rates = m[(m["unit"] == "rate") & (m["verdict"] == SAME) & (m["note"] == "")]
            assert ((rates["diff_lo"] <= 0) & (rates["diff_hi"] >= 0)).all()


def test_the_headline_names_its_verdict_once(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, **SAME_BUILD))
    b = load_run(make_run("b", seed=2, shift_ms=20.0, **SAME_BUILD))
    for base, cand in ((a, b), (b, a), (a, a)):
        c = compare(base, cand, calibration=QUIET)
        words = [v.value for v in Verdict]
        label, _, rest = c.headline.partition(": ")
        assert label.lower() == c.verdict.value
        assert not any(rest.lower().startswith(f"{w}:") for w in words), c.headline


def test_one_run_rates_need_a_calibration_that_saw_failures(make_run: MakeRun) -> None:
    a = load_run(make_run("a", seed=1, n=20000, failure_rate=0.01))
    b = load_run(make_run("b", seed=2, n=20000, failure_rate=0.03))
    rate = lambda c: c.metric("golden_path", "failure rate")  # noqa: E731
    blind = compare(a, b, calibration=calibration(0.02, phi=None))
    assert rate(blind)["verdict"] == INCONCLUSIVE
    assert "no calibration run failed" in rate(blind)["note"]
    # binomial-like runs (phi 1): 1% -> 3% is worse; rates that vary 30x more: undecided
    assert rate(compare(a, b, calibration=calibration(0.02, phi=1.0)))["verdict"] == WORSE
    loose = rate(compare(a, b, calibration=calibration(0.02, phi=30.0)))
    assert loose["verdict"] == INCONCLUSIVE and loose["more_runs"] >= 1


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
