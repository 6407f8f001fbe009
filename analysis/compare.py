"""Compare a candidate with a baseline (two runs, or two groups of repeated runs).

Every metric gets a relative change with a confidence interval, a p-value and
one of five verdicts (:class:`Verdict`). The rule (documented in the report too):

* **Uncertainty comes from run-to-run noise.** Rows of one run are not
  independent, so a metric is only as certain as it is stable between runs of
  one build. That noise is measured: from a side's own repeated runs, pooled
  with a calibration (:mod:`analysis.calibration`: ``goldenpath calibrate``, or
  the one shipped with goldenpath). A percentile's or throughput's standard
  error is the larger of the run-to-run one, ``sd * sqrt(1/k_b + 1/k_c)`` for
  k runs per side, and the within-run one (an exact bootstrap of the order
  statistic); a rate's is the binomial one times the square root of the
  measured dispersion. Tests and intervals use Student's t with the noise
  estimate's degrees of freedom. Where no noise is known (one run per side and
  nothing calibrated for that metric) the metric is *inconclusive*.
* **A change must hold across the run's time.** Each run's steady state is cut
  into 10 time blocks. A t-test with a percentile's standard error from a block
  bootstrap (blocks with rows resampled within each run) replaces the test
  above where it is less sure (its larger p-value; the union of the two
  intervals), and the change in the percentile's *median over the time blocks*
  (5 blocks of 10 rows a side at least) must be significant under the same
  run-to-run noise too (it can only raise the p-value): a slow spell in a few
  of a run's blocks moves its tail, not that median (``Thresholds.time_blocks``).
* **worse / better** needs *both* statistical significance *and* a practical
  effect. Significant: p below alpha / m (Bonferroni over the m metrics tested,
  family-wise alpha = 0.05), so a report with 40 metrics does not cry wolf.
  Practical: |relative change| >= 5%, >= 0.1 IQR and >= 1 ms (latency), or
  >= 0.1 percentage point (failure rates).
* **negligible**: significant, but below the practical threshold.
* **no detectable change**: not significant, and the whole interval lies inside
  the practical threshold (an equivalence test; for a percentile a change under
  1 ms counts as inside).
* **inconclusive**: not significant, but the interval reaches past the
  threshold; the table says about how many more runs per side would decide it
  (the standard error shrinks as 1/sqrt(runs)).

Isolation violations and 1011 closes are zero-tolerance defects: present on
one side only is worse (or better) regardless of the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration import Calibration, default_calibration
from analysis.load import Run, RunGroup
from analysis.metric_rows import (
    failure_rows,
    latency_rows,
    more_runs_needed,
    throughput_row,
    window_throughput,
)
from analysis.noise import NoiseModel
from analysis.stats import bootstrap_quantile, ks_p, mann_whitney_p, rank_test_sample
from analysis.steady import Warmup
from analysis.summarize import summarize
from analysis.summary import Summary
from analysis.verdicts import (
    BETTER,
    COMPARE_QUANTILES,
    INCONCLUSIVE,
    MAX_MORE_RUNS,
    NEGLIGIBLE,
    SAME,
    VERDICTS,
    WORSE,
    Thresholds,
    Verdict,
    by_priority,
    describe_change,
    headline_verdict,
)
from resultsformat.meta import end_reason, is_completed


@dataclass(eq=False)
class Comparison:
    """The per-metric table, the headline verdict and the notes that explain it."""

    baseline: Summary
    candidate: Summary
    metrics: pd.DataFrame
    verdict: Verdict
    headline: str
    notes: list[str]
    thresholds: Thresholds
    alpha_per_metric: float
    primary: str
    calibration: Calibration = field(default_factory=Calibration)
    extras: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str, metric: str) -> pd.Series:
        """One row of the table, e.g. ``metric('golden_path', 'p50')``."""
        m = self.metrics
        row = m[(m["name"] == name) & (m["metric"] == metric)]
        if row.empty:
            raise KeyError(f"no metric {metric!r} for {name!r}")
        return row.iloc[0]


def _judge(row: dict[str, Any], th: Thresholds, alpha_m: float, model: NoiseModel) -> None:
    """Fill ``verdict``, ``more_runs`` and ``note`` for a row not yet judged."""
    if row["verdict"]:
        return
    kind = row["_kind"]
    if kind in ("rate", "defect"):
        est = row["diff"]
        thr = th.min_rate_change
        practical = abs(est) >= thr and (kind == "rate" or abs(row["change"]) >= th.min_rel_change)
        thr_est = thr  # the t-test ran on the difference itself
    else:
        est = row["change"]
        thr = th.min_rel_change
        eff = row["effect_iqr"]
        # An IQR of 0 gives an infinite effect; no IQR (NaN) leaves the relative rule alone.
        practical = abs(est) >= thr and (np.isnan(eff) or abs(eff) >= th.min_effect_iqr)
        if kind == "quantile":
            practical = practical and abs(row["diff"]) >= th.min_abs_change_ms
        thr_est = float(np.log1p(thr))  # the t-test ran on the log of the ratio
    if not np.isfinite(est):
        row["verdict"] = INCONCLUSIVE
        row["note"] = "no finite estimate"
        return
    significant = row["p_value"] < alpha_m
    up = est > 0
    worse = up if row["lower_is_better"] else not up
    if significant:
        row["verdict"] = (WORSE if worse else BETTER) if practical else NEGLIGIBLE
        if not practical:
            row["note"] = "significant, but below the practical threshold"
        return
    # No detectable change: an equivalence test, the whole interval inside the margin in
    # which no change is practical (for a percentile also one under 1 ms, so a 3 ms
    # login p50 is not left inconclusive by a relative interval of +-40%)
    margin = thr
    if kind in ("rate", "defect"):
        lo, hi = row["diff_lo"], row["diff_hi"]
    else:
        lo, hi = row["change_lo"], row["change_hi"]
        if kind == "quantile" and row["baseline"] > 0:
            margin = max(thr, th.min_abs_change_ms / row["baseline"])
    if np.isfinite(lo) and np.isfinite(hi) and -margin < lo and hi < margin:
        row["verdict"] = SAME
        return
    row["verdict"] = INCONCLUSIVE
    row["more_runs"] = more_runs_needed(row, model, th, alpha_m, thr_est)
    row["note"] = "not significant, but the interval reaches past the threshold"
    if row["_blocks"]:
        row["note"] += (
            "; its time blocks disagree more than runs of one build do (a slow spell"
            " within a run), which made it less sure"
        )


def compare(
    baseline: Summary | Run | RunGroup | Sequence[Run],
    candidate: Summary | Run | RunGroup | Sequence[Run],
    *,
    warmup: Warmup = "auto",
    thresholds: Thresholds | None = None,
    quantiles: Sequence[float] = COMPARE_QUANTILES,
    calibration: Calibration | None = None,
) -> Comparison:
    """Compare ``candidate`` with ``baseline``: per-metric table and a headline verdict.

    ``calibration`` is the run-to-run noise measured on this machine
    (:func:`analysis.calibration.calibrate`); None uses the one shipped with goldenpath,
    ``Calibration()`` none at all (then only repeated runs show the noise).
    """
    th = thresholds or Thresholds()
    cal = default_calibration() if calibration is None else calibration
    sb = baseline if isinstance(baseline, Summary) else summarize(baseline, warmup=warmup)
    sc = candidate if isinstance(candidate, Summary) else summarize(candidate, warmup=warmup)
    model = NoiseModel.of(sb, sc, cal)
    primary = sc.primary if sc.primary in sb.samples else sb.primary
    rows = latency_rows(model, th, quantiles, primary)
    rows += [throughput_row(model, th)]
    rows += failure_rows(model, th)
    tested = [r for r in rows if not r["verdict"] and np.isfinite(r["p_value"])]
    alpha_m = th.alpha / max(1, len(tested))
    for r in rows:
        _judge(r, th, alpha_m, model)
    metrics = pd.DataFrame(rows)
    metrics = metrics.drop(columns=[c for c in metrics.columns if c.startswith("_")])
    verdict, headline, notes = _headline(metrics, primary, model)
    return Comparison(
        baseline=sb,
        candidate=sc,
        metrics=metrics,
        verdict=verdict,
        headline=headline,
        notes=notes,
        thresholds=th,
        alpha_per_metric=alpha_m,
        primary=primary,
        calibration=cal,
    )


def _headline(m: pd.DataFrame, primary: str, model: NoiseModel) -> tuple[Verdict, str, list[str]]:
    ordered = by_priority(m, primary)
    verdict = headline_verdict(m, primary)
    worse = ordered[ordered["verdict"] == WORSE]
    better = ordered[ordered["verdict"] == BETTER]
    prim = m[(m["name"] == primary) & (m["metric"] == "p50")]
    if verdict == WORSE:
        parts = ["; ".join(describe_change(r) for _, r in worse.head(3).iterrows())]
        if not better.empty:
            parts.append("also better: " + describe_change(better.iloc[0]))
    elif verdict == BETTER:
        parts = ["; ".join(describe_change(r) for _, r in better.head(3).iterrows())]
    else:
        parts = [describe_change(prim.iloc[0]) if not prim.empty else primary]
    headline = f"{verdict.value.capitalize()}: " + " | ".join(parts)

    notes = []
    inc = ordered[ordered["verdict"] == INCONCLUSIVE]
    if not inc.empty:
        listed = ", ".join(f"{r['name']} {r['metric']}" for _, r in inc.iterrows())
        notes.append(
            f"inconclusive ({len(inc)}): {listed}; the table says about how many more "
            "runs (or samples) per side would decide each"
        )
    k_b, k_c = model.runs
    notes.append(
        f"run-to-run noise: {k_b} baseline and {k_c} candidate run(s), pooled with the "
        f"{model.calibration.describe()}"
    )
    for s, side in ((model.baseline, "baseline"), (model.candidate, "candidate")):
        cuts = ", ".join(f"{c.run} {c.cut_s:.1f} s" for c in s.warmup.values())
        rule = next(iter(s.warmup.values())).rule
        notes.append(f"{side} warm-up cut ({rule}): {cuts}")
        ended = [end_reason(m_) for m_ in s.meta if not is_completed(m_)]
        if ended:
            notes.append(f"{side}: {len(ended)} run(s) did not complete ({', '.join(ended)})")
    return verdict, headline, notes


# Names other modules and notebooks import from here.
__all__ = [
    "BETTER", "COMPARE_QUANTILES", "INCONCLUSIVE", "MAX_MORE_RUNS", "NEGLIGIBLE", "SAME",
    "VERDICTS", "WORSE", "Comparison", "NoiseModel", "Thresholds", "Verdict", "bootstrap_quantile",
    "compare", "describe_change", "headline_verdict", "ks_p", "mann_whitney_p",
    "rank_test_sample", "window_throughput",
]  # fmt: skip
