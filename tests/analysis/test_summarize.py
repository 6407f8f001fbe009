"""Summaries: exact percentiles, order-statistic intervals, failures, windows over time."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.load import as_group, load_run
from analysis.summarize import (
    failures_over_time,
    grouped_quantiles,
    over_time,
    quantile_ci,
    samples_for_bounded_ci,
    summarize,
)
from tests.utils.synth import MakeRun


def test_percentiles_are_exact(make_run: MakeRun) -> None:
    run = load_run(make_run("r", seed=4, failure_rate=0.02))
    s = summarize(run, warmup="none")
    ev = run.events
    for name in ("golden_path", "login"):
        ms = ev.loc[(ev["name"] == name) & ev["ok"], "ms"].to_numpy()
        expected = np.percentile(ms, [50, 90, 95, 99, 99.9])
        got = s.latency.loc[name, ["p50", "p90", "p95", "p99", "p99.9"]].to_numpy(float)
        np.testing.assert_allclose(got, expected)
        assert s.latency.loc[name, "max"] == ms.max()
        assert s.latency.loc[name, "samples"] == ms.size
        assert s.latency.loc[name, "requests"] == (ev["name"] == name).sum()
        row = s.latency.loc[name]
        for lab in ("p50", "p90", "p95", "p99"):
            assert row[f"{lab}_lo"] <= row[lab] <= row[f"{lab}_hi"]
    assert s.latency.loc["golden_path", "throughput_rps"] == pytest.approx(
        s.latency.loc["golden_path", "requests"] / s.steady_s
    )


def test_warmup_cuts_latency_not_defects(make_run: MakeRun) -> None:
    run = load_run(make_run("w", seed=3, isolation_violations=20, failure_rate=0.02))
    full, cut = summarize(run, warmup="none"), summarize(run, warmup=15.0)
    assert cut.isolation_violations == full.isolation_violations == 20
    assert cut.latency.loc["golden_path", "requests"] == full.latency.loc["golden_path", "requests"]
    assert cut.latency.loc["golden_path", "samples"] < full.latency.loc["golden_path", "samples"]
    assert (
        cut.latency.loc["golden_path", "steady_requests"]
        < (full.latency.loc["golden_path", "steady_requests"])
    )


def test_order_statistic_interval_covers() -> None:
    """The interval covers the true quantile at least at its nominal rate."""
    rng = np.random.default_rng(7)
    for q in (0.5, 0.9, 0.99):
        true = stats.expon.ppf(q)
        hits = 0
        for _ in range(300):
            x = np.sort(rng.exponential(size=400))
            _, lo, hi = quantile_ci(x, q, 0.95)
            hits += lo <= true <= hi
        assert hits / 300 >= 0.92, q


def test_open_bounds_when_too_few() -> None:
    x = np.sort(np.random.default_rng(0).random(100))
    est, lo, hi = quantile_ci(x, 0.999)
    assert np.isfinite(est) and np.isnan(hi)
    n = samples_for_bounded_ci(0.999)
    x = np.sort(np.random.default_rng(0).random(n))
    assert np.isfinite(quantile_ci(x, 0.999)[2])


def test_defects_counted(make_run: MakeRun) -> None:
    run = load_run(
        make_run("d", seed=2, isolation_violations=3, closes_1011=2, dropped=7, failure_rate=0.01)
    )
    s = summarize(run, warmup="none")
    # once per agent run: the golden_path row repeats its response row's outcome
    assert s.isolation_violations == 3
    assert s.closes_1011 == 2
    assert s.dropped_iterations == 7
    assert s.close_codes[1011] == 2  # per run: not again for the golden_path row
    assert s.failures.loc["response", "isolation_violation"] == 3  # rows per request name
    assert s.failures.loc["iteration", "dropped"] == 7
    assert s.latency.loc["iteration", "requests"] == 0  # dropped iterations never started
    # failed agent runs by outcome: the same numbers as the headline defects
    assert s.failure_kinds["isolation_violation"] == 3
    assert s.failure_kinds["ws_close_1011"] == 2
    assert "dropped" not in s.failure_kinds  # not an agent run
    assert s.latency.loc["response", "failed"] == s.runs_counted.failed


def test_fixed_warmup_drops_rows(make_run: MakeRun) -> None:
    run = load_run(make_run("w", seed=1))
    s = summarize(run, warmup=10.0)
    assert s.events["elapsed_s"].min() >= 10.0
    assert s.rows < s.rows_total
    assert s.warmup["w"].rule == "fixed"


def test_group_summary_pools_runs(make_run: MakeRun) -> None:
    runs = [load_run(make_run(f"g{i}", seed=i)) for i in range(2)]
    s = summarize(runs, warmup="none")
    assert s.latency.loc["golden_path", "requests"] == sum(
        (r.events["name"] == "golden_path").sum() for r in runs
    )
    assert set(s.per_run.index.get_level_values("run")) == {"g0", "g1"}


def test_grouped_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 5, 1000)
    vals = rng.random(1000)
    uniq, counts, q = grouped_quantiles(keys, vals, [0.5, 0.99])
    for k, c, row in zip(uniq, counts, q, strict=True):
        assert c == (keys == k).sum()
        np.testing.assert_allclose(row, np.quantile(vals[keys == k], [0.5, 0.99]))


def test_over_time(make_run: MakeRun) -> None:
    ev = as_group(load_run(make_run("t", seed=5, failure_rate=0.05))).events
    ot = over_time(ev, window_s=5.0)
    first = ot[(ot["t_s"] == 0.0) & (ot["name"] == "golden_path")].iloc[0]
    sel = (ev["elapsed_s"] < 5.0) & (ev["name"] == "golden_path")
    assert first["requests"] == sel.sum()
    assert first["p50"] == pytest.approx(np.median(ev.loc[sel & ev["ok"], "ms"]))
    assert first["throughput_rps"] == pytest.approx(sel.sum() / 5.0)
    fot = failures_over_time(ev, window_s=5.0)
    # each failed agent run once (not again for its golden_path row), plus failed steps before
    # a run; the synthetic data fails ttfe rows too, which are neither
    runs = ~ev["ok"] & (ev["name"] == "response")
    before = ~ev["ok"] & ev["name"].isin(["login", "ws_connect"])
    assert fot.to_numpy().sum() == runs.sum() + before.sum()
