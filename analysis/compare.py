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

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.calibration import Calibration, Noise, default_calibration, dispersion, rate_table
from analysis.load import Run, RunGroup
from analysis.scan import whole_ticks
from analysis.steady import Warmup
from analysis.summarize import (
    CLOSE_1011,
    DROPPED,
    ISOLATION,
    Summary,
    nice_window,
    qlabel,
    quantiles_sorted,
    samples_for_bounded_ci,
    summarize,
)
from resultsformat.meta import end_reason, is_completed


class Verdict(StrEnum):
    """The words of a comparison, the same in report.md, report.html and verdict.json."""

    WORSE = "worse"
    BETTER = "better"
    NEGLIGIBLE = "negligible"
    SAME = "no detectable change"
    INCONCLUSIVE = "inconclusive"


WORSE, BETTER, NEGLIGIBLE, SAME, INCONCLUSIVE = (
    Verdict.WORSE,
    Verdict.BETTER,
    Verdict.NEGLIGIBLE,
    Verdict.SAME,
    Verdict.INCONCLUSIVE,
)
VERDICTS = tuple(Verdict)
COMPARE_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)
MAX_MORE_RUNS = 100


@dataclass(frozen=True)
class Thresholds:
    """What counts as a practical change, and how sure a verdict must be."""

    min_rel_change: float = 0.05  # |relative change| for latency and throughput
    min_effect_iqr: float = 0.1  # |change| in units of the (averaged) IQR
    min_rate_change: float = 0.001  # failure rates: 0.1 percentage point, absolute
    # Below a millisecond, scheduler jitter on a loaded machine is as large as the change.
    min_abs_change_ms: float = 1.0
    alpha: float = 0.05  # family-wise, Bonferroni over the metrics tested
    confidence: float = 0.95
    min_samples: int = 20
    bootstrap: int = 2000
    seed: int = 0
    # Mann-Whitney U and Kolmogorov-Smirnov run on a seeded random subsample of this many
    # successful rows a side when a side has more (rank_test_sample); estimates use every row.
    test_rows: int = 500_000


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


# --- tests on sorted samples -------------------------------------------------------


def mann_whitney_p(b: np.ndarray, c: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value of two *sorted* samples.

    Large samples use the normal approximation with tie and continuity
    corrections (as scipy's asymptotic method), computed from the sorted
    arrays with binary searches instead of ranking the pooled data.
    """
    nb, nc = b.size, c.size
    if nb == 0 or nc == 0:
        return np.nan
    if min(nb, nc) < 50:
        return float(stats.mannwhitneyu(c, b, alternative="two-sided").pvalue)
    left = np.searchsorted(b, c, side="left")
    right = np.searchsorted(b, c, side="right")
    u = float(left.sum() + 0.5 * (right - left).sum())
    merged = np.sort(np.concatenate([b, c]), kind="stable")
    n = merged.size
    edges = np.flatnonzero(np.diff(merged) != 0)
    runs = np.diff(np.concatenate([[-1], edges, [n - 1]])).astype(float)
    tie = float((runs**3 - runs).sum())
    mu = nb * nc / 2.0
    var = nb * nc / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - mu) - 0.5) / np.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))


def ks_p(b: np.ndarray, c: np.ndarray) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov p-value (exact when scipy can, else the
    asymptotic one: scipy falls back by itself, and says so in a warning we expect)."""
    if b.size == 0 or c.size == 0:
        return np.nan
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
        return float(stats.ks_2samp(b, c).pvalue)


def rank_test_sample(x: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``x`` (sorted) when it has at most ``size`` values, else ``size`` of them drawn
    without replacement (seeded ``rng``), still sorted. The p-values of the rank tests
    then describe a sample of ``size``: at 500,000 a side they still resolve a shift of
    under 1% of the spread, far below any threshold that matters."""
    if x.size <= size:
        return x
    return x[np.sort(rng.choice(x.size, size=size, replace=False))]


def bootstrap_quantile(x: np.ndarray, q: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Exact bootstrap draws of the q-quantile's order statistic of sorted ``x``."""
    n = x.size
    k = int(np.clip(np.round(q * (n - 1)) + 1, 1, n))
    u = rng.beta(k, n - k + 1, size=draws)
    idx = np.clip(np.ceil(n * u).astype(np.int64) - 1, 0, n - 1)
    return x[idx]


def _iqr(x: np.ndarray) -> float:
    q1, q3 = quantiles_sorted(x, [0.25, 0.75])
    return float(q3 - q1)


# --- run-to-run noise ----------------------------------------------------------------


@dataclass(frozen=True)
class NoiseModel:
    """What a comparison knows of run-to-run noise: each side's repeated runs and a
    calibration, pooled by degrees of freedom."""

    baseline: Summary
    candidate: Summary
    calibration: Calibration
    dispersion: Noise | None  # of rates: the sides' repeated runs pooled with the calibration

    @classmethod
    def of(cls, sb: Summary, sc: Summary, calibration: Calibration) -> NoiseModel:
        tables = [rate_table(s) for s in (sb, sc) if len(s.runs) > 1]
        own = dispersion(tables)
        cal = calibration.dispersion
        return cls(sb, sc, calibration, own.pooled(cal) if own else cal)

    @property
    def runs(self) -> tuple[int, int]:
        return len(self.baseline.runs), len(self.candidate.runs)

    def _own(self, values: list[np.ndarray]) -> Noise | None:
        """Pooled SD of log per-run values within each side that has repeated runs."""
        pooled: Noise | None = None
        for v in values:
            v = v[np.isfinite(v) & (v > 0)]
            if v.size >= 2:
                n = Noise(float(np.log(v).std(ddof=1)), int(v.size - 1))
                pooled = n.pooled(pooled)
        return pooled

    def latency(self, name: str, label: str) -> Noise | None:
        values = []
        for s in (self.baseline, self.candidate):
            if label in s.per_run and name in s.per_run.index.get_level_values("name"):
                values.append(s.per_run.xs(name, level="name")[label].to_numpy(dtype=float))
        return _pool(self._own(values), self.calibration.latency_noise(name, label))

    def throughput(self) -> Noise | None:
        values = [_run_throughput(s) for s in (self.baseline, self.candidate)]
        return _pool(self._own(values), self.calibration.throughput)


def _pool(own: Noise | None, cal: Noise | None) -> Noise | None:
    return own.pooled(cal) if own is not None else cal


def _run_throughput(s: Summary) -> np.ndarray:
    """Requests per second of each run's steady state (dropped and interrupted left out)."""
    if s.per_run.empty:
        return np.empty(0)
    requests = s.per_run.groupby(level="run", observed=True)["requests"].sum()
    seconds = s.run_seconds.reindex(requests.index).to_numpy(dtype=float)
    return np.asarray(requests.to_numpy(dtype=float) / seconds)


def _t_test(
    row: dict[str, Any], est: float, se: float, df: int, th: Thresholds, on_log: bool
) -> None:
    """Fill the p-value and the interval of ``est`` (a log ratio, or a difference)."""
    df = max(1, df)
    t = abs(est) / se if se > 0 else (np.inf if est else 0.0)
    p = float(2 * stats.t.sf(t, df)) if np.isfinite(t) else 0.0
    row["p_value"] = max(p, row["p_value"]) if np.isfinite(row["p_value"]) else p
    half = float(stats.t.ppf(0.5 + th.confidence / 2, df)) * se
    lo, hi = est - half, est + half
    if on_log:
        row["change_lo"], row["change_hi"] = float(np.exp(lo) - 1), float(np.exp(hi) - 1)
    else:
        row["diff_lo"], row["diff_hi"] = lo, hi
    row["_est"], row["_se"], row["_df"] = est, se, df


def _no_noise(row: dict[str, Any], model: NoiseModel, what: str) -> None:
    row["verdict"] = INCONCLUSIVE
    row["more_runs"] = max(0, 2 - min(model.runs))
    row["note"] = (
        f"one run per side and no calibration of {what}: run-to-run noise unknown "
        "(repeat the runs, or give --calibration)"
    )


# --- the comparison ------------------------------------------------------------------


def _row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "section": "",
        "name": "",
        "metric": "",
        "unit": "",
        "lower_is_better": True,
        "baseline": np.nan,
        "candidate": np.nan,
        "change": np.nan,
        "change_lo": np.nan,
        "change_hi": np.nan,
        "diff": np.nan,
        "diff_lo": np.nan,
        "diff_hi": np.nan,
        "mwu_p": np.nan,
        "ks_p": np.nan,
        "p_value": np.nan,
        "effect_iqr": np.nan,
        "n_baseline": 0,
        "n_candidate": 0,
        "noise": np.nan,  # run-to-run SD of the log (latency, throughput) or phi (rates)
        "noise_df": np.nan,
        "verdict": "",
        "more_samples": np.nan,
        "more_runs": np.nan,
        "note": "",
        "_kind": "",  # how to judge: quantile / rate / defect / throughput / fixed
        "_est": np.nan,
        "_se": np.nan,
        "_df": 0,
    }
    base.update(kw)
    return base


def _latency_rows(
    model: NoiseModel, th: Thresholds, quantiles: Sequence[float], primary: str
) -> list[dict[str, Any]]:
    sb, sc = model.baseline, model.candidate
    k_b, k_c = model.runs
    rows = []
    names = [n for n in sb.latency.index if n in sc.latency.index]
    names += [n for n in sc.latency.index if n not in sb.latency.index]
    names += [n for n in sb.latency.index if n not in names]
    names.sort(key=lambda n: n != primary)  # the story's request first
    rng = np.random.default_rng(th.seed)
    test_rng = np.random.default_rng([th.seed, 1])  # its own stream: the bootstrap's is unchanged
    for name in names:
        b = sb.samples.get(name, np.empty(0))
        c = sc.samples.get(name, np.empty(0))
        if b.size == 0 and c.size == 0:
            continue
        tests_done = False
        mwu = ksp = np.nan
        iqr = (_iqr(b) + _iqr(c)) / 2 if b.size and c.size else np.nan
        for q in quantiles:
            lab = qlabel(q)
            row = _row(section="latency", name=name, metric=lab, unit="ms", _kind="quantile")
            row["n_baseline"], row["n_candidate"] = int(b.size), int(c.size)
            need = max(th.min_samples, samples_for_bounded_ci(q, th.confidence))
            if b.size:
                row["baseline"] = float(quantiles_sorted(b, [q])[0])
            if c.size:
                row["candidate"] = float(quantiles_sorted(c, [q])[0])
            if min(b.size, c.size) < need:
                row["verdict"] = INCONCLUSIVE
                row["more_samples"] = need - min(b.size, c.size)
                side = "baseline" if b.size < c.size else "candidate"
                row["note"] = f"{lab} needs >= {need} successful samples per side ({side}: "
                row["note"] += f"{min(b.size, c.size)})"
                rows.append(row)
                continue
            if not tests_done:
                tb, tc = (rank_test_sample(x, th.test_rows, test_rng) for x in (b, c))
                mwu, ksp = mann_whitney_p(tb, tc), ks_p(tb, tc)
                tests_done = True
            qb, qc = row["baseline"], row["candidate"]
            row["mwu_p"], row["ks_p"] = mwu, ksp
            row["p_value"] = min(1.0, 2 * min(mwu, ksp))
            row["diff"] = qc - qb
            row["change"] = qc / qb - 1 if qb > 0 else np.nan
            row["effect_iqr"] = (qc - qb) / iqr if iqr > 0 else (0.0 if qc == qb else np.inf)
            db = bootstrap_quantile(b, q, th.bootstrap, rng)
            dc = bootstrap_quantile(c, q, th.bootstrap, rng)
            lo_p, hi_p = 50 - 50 * th.confidence, 50 + 50 * th.confidence
            row["diff_lo"], row["diff_hi"] = np.percentile(dc - db, [lo_p, hi_p])
            noise = model.latency(name, lab)
            if qb <= 0 or qc <= 0:
                row["verdict"], row["note"] = INCONCLUSIVE, "a percentile of 0 ms has no ratio"
            elif noise is None:
                _no_noise(row, model, f"{name} {lab}")
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    logs = np.log(dc / db)
                var_within = float(logs[np.isfinite(logs)].var())
                var_runs = noise.value**2 * (1 / k_b + 1 / k_c)
                row["noise"], row["noise_df"] = noise.value, noise.df
                se = float(np.sqrt(max(var_runs, var_within)))
                _t_test(row, float(np.log(qc / qb)), se, noise.df, th, on_log=True)
            rows.append(row)
    return rows


def _rate_row(
    *,
    section: str,
    name: str,
    metric: str,
    kb: int,
    nb: int,
    kc: int,
    nc: int,
    th: Thresholds,
    model: NoiseModel,
    zero_tolerance: bool = False,
) -> dict[str, Any]:
    row = _row(section=section, name=name, metric=metric, unit="rate", _kind="rate")
    row["n_baseline"], row["n_candidate"] = nb, nc
    row["count_baseline"], row["count_candidate"] = kb, kc
    if nb == 0 or nc == 0:
        row["verdict"] = INCONCLUSIVE
        row["note"] = "no rows on one side"
        return row
    pb, pc = kb / nb, kc / nc
    row["baseline"], row["candidate"] = pb, pc
    row["diff"] = pc - pb
    row["change"] = pc / pb - 1 if pb > 0 else (0.0 if pc == 0 else np.inf)
    if kb == 0 and kc == 0:
        row["p_value"] = 1.0
        row["_kind"] = "fixed"
        row["verdict"] = SAME
        row["note"] = "none on either side"
        return row
    if zero_tolerance and (kb == 0) != (kc == 0):
        row["_kind"] = "fixed"
        row["p_value"] = float(stats.fisher_exact([[kb, nb - kb], [kc, nc - kc]]).pvalue)
        row["verdict"] = WORSE if kc > 0 else BETTER
        row["note"] = "zero tolerance: present on one side only"
        return row
    if zero_tolerance:
        row["_kind"] = "defect"
    phi = model.dispersion
    if phi is None:
        _no_noise(row, model, "rates (no calibration run failed anything)")
        return row
    # Agresti-Caffo interval for a difference of proportions (add one success and failure),
    # widened by the measured dispersion of rates between runs.
    ab, ac = (kb + 1) / (nb + 2), (kc + 1) / (nc + 2)
    se = np.sqrt(phi.value * (ab * (1 - ab) / (nb + 2) + ac * (1 - ac) / (nc + 2)))
    row["noise"], row["noise_df"] = phi.value, phi.df
    _t_test(row, ac - ab, float(se), phi.df, th, on_log=False)
    row["diff_lo"] += pc - pb - (ac - ab)  # centred on the observed difference
    row["diff_hi"] += pc - pb - (ac - ab)
    return row


def _started(s: Summary) -> int:
    counts = s.latency["requests"]
    return int(counts.get("golden_path", counts.get("response", 0)))


def _failure_rows(model: NoiseModel, th: Thresholds) -> list[dict[str, Any]]:
    sb, sc = model.baseline, model.candidate
    rows = []
    for name in sb.latency.index.union(sc.latency.index, sort=False):
        nb = int(sb.latency["requests"].get(name, 0))
        nc = int(sc.latency["requests"].get(name, 0))
        if nb == 0 and nc == 0:
            continue
        kb = int(sb.latency["failed"].get(name, 0))
        kc = int(sc.latency["failed"].get(name, 0))
        rows.append(
            _rate_row(section="failures", name=name, metric="failure rate",
                      kb=kb, nb=nb, kc=kc, nc=nc, th=th, model=model)
        )  # fmt: skip
    # Defects and failure kinds per agent run (the counting rule), over the runs judged
    # (interrupted runs were cut by the end of the load, not by the backend).
    nb, nc = sb.runs_counted.judged, sc.runs_counted.judged
    for metric, kb, kc in (
        ("isolation violations", sb.isolation_violations, sc.isolation_violations),
        (f"{CLOSE_1011} closes", sb.closes_1011, sc.closes_1011),
    ):
        rows.append(
            _rate_row(section="defects", name="all", metric=metric, kb=kb, nb=nb, kc=kc,
                      nc=nc, th=th, model=model, zero_tolerance=True)
        )  # fmt: skip
    # scheduled iterations: those that started (one golden path, or one agent run when
    # there is no golden path) and those dropped for want of a free user
    it_b = _started(sb) + sb.dropped_iterations
    it_c = _started(sc) + sc.dropped_iterations
    if it_b or it_c:
        rows.append(
            _rate_row(section="defects", name="iteration", metric="dropped iterations",
                      kb=sb.dropped_iterations, nb=int(it_b), kc=sc.dropped_iterations,
                      nc=int(it_c), th=th, model=model)
        )  # fmt: skip
    kinds_b, kinds_c = sb.failure_kinds, sc.failure_kinds
    for kind in kinds_b.index.union(kinds_c.index, sort=False):
        if kind in (ISOLATION, DROPPED):
            continue
        rows.append(
            _rate_row(section="failure kinds", name="all", metric=str(kind),
                      kb=int(kinds_b.get(kind, 0)), nb=nb, kc=int(kinds_c.get(kind, 0)),
                      nc=nc, th=th, model=model)
        )  # fmt: skip
    return rows


def window_throughput(s: Summary, window_s: float) -> np.ndarray:
    """Requests per second in each whole steady-state window of each run (exact: windows
    are whole numbers of the scan's ticks, counted from each run's cut)."""
    per = s.requests_per_window(window_s, steady=True)
    return per.sum(axis=1).to_numpy(dtype=float) / window_s if not per.empty else np.empty(0)


def _throughput_row(model: NoiseModel, th: Thresholds) -> dict[str, Any]:
    sb, sc = model.baseline, model.candidate
    row = _row(
        section="throughput",
        name="all",
        metric="requests/s",
        unit="rps",
        lower_is_better=False,
        _kind="throughput",
    )
    per_run_s = min(sb.steady_s / len(sb.runs), sc.steady_s / len(sc.runs))
    window = whole_ticks(nice_window(per_run_s, target=30), sb.ticks_s + sc.ticks_s)
    b = np.sort(window_throughput(sb, window))
    c = np.sort(window_throughput(sc, window))
    row["n_baseline"], row["n_candidate"] = int(b.size), int(c.size)
    row["window_s"] = window
    if min(b.size, c.size) < 5:
        row["verdict"] = INCONCLUSIVE
        row["note"] = f"fewer than 5 whole {window:g} s windows on a side"
        row["more_samples"] = 5 - min(b.size, c.size)
        return row
    mb, mc = b.mean(), c.mean()
    row["baseline"], row["candidate"] = mb, mc
    row["diff"] = mc - mb
    row["change"] = mc / mb - 1 if mb > 0 else np.nan
    row["mwu_p"], row["ks_p"] = mann_whitney_p(b, c), ks_p(b, c)
    row["p_value"] = min(1.0, 2 * min(row["mwu_p"], row["ks_p"]))
    iqr = (_iqr(b) + _iqr(c)) / 2
    row["effect_iqr"] = row["diff"] / iqr if iqr > 0 else np.nan
    noise = model.throughput()
    if mb <= 0 or mc <= 0:
        row["verdict"], row["note"] = INCONCLUSIVE, "no throughput on one side"
    elif noise is None:
        _no_noise(row, model, "throughput")
    else:
        # windows within a run: their spread is the within-run uncertainty of the mean
        var_within = (b.var(ddof=1) / b.size) / mb**2 + (c.var(ddof=1) / c.size) / mc**2
        var_runs = noise.value**2 * (1 / len(sb.runs) + 1 / len(sc.runs))
        row["noise"], row["noise_df"] = noise.value, noise.df
        se = float(np.sqrt(max(var_runs, var_within)))
        _t_test(row, float(np.log(mc / mb)), se, noise.df, th, on_log=True)
    return row


def _more_runs(
    row: dict[str, Any], model: NoiseModel, th: Thresholds, alpha_m: float, thr: float
) -> int:
    """Runs per side that would decide an inconclusive metric: shrink the standard error
    (as 1/sqrt(runs)) until the estimate is significant or the interval fits inside the
    threshold, whichever comes first; capped at ``MAX_MORE_RUNS``."""
    est, se, df = abs(row["_est"]), row["_se"], row["_df"]
    if not (np.isfinite(se) and se > 0):
        return 0
    k = min(model.runs)
    t_sig = stats.t.ppf(1 - alpha_m / 2, max(1, df))
    t_ci = stats.t.ppf(0.5 + th.confidence / 2, max(1, df))
    targets = [est / t_sig] + ([(thr - est) / t_ci] if thr > est else [])
    best = max(targets)
    if best <= 0:
        return MAX_MORE_RUNS
    runs = int(np.ceil(k * (se / best) ** 2))
    return int(min(MAX_MORE_RUNS, max(1, runs - k)))


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
    row["more_runs"] = _more_runs(row, model, th, alpha_m, thr_est)
    row["note"] = "not significant, but the interval reaches past the threshold"


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
    rows = _latency_rows(model, th, quantiles, primary)
    rows += [_throughput_row(model, th)]
    rows += _failure_rows(model, th)
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


def describe_change(row: pd.Series) -> str:
    """``golden_path p50 +12.3% [+10.1%, +14.6%]`` or ``isolation violations 14 -> 0``."""
    if row["unit"] == "rate":
        if row["metric"] in ("isolation violations", f"{CLOSE_1011} closes"):
            return f"{row['metric']} {int(row['count_baseline'])} -> {int(row['count_candidate'])}"
        label = row["metric"] if row["name"] == "all" else f"{row['name']} {row['metric']}"
        return f"{label} {row['baseline']:.2%} -> {row['candidate']:.2%}"
    label = f"{row['name']} {row['metric']}" if row["name"] != "all" else str(row["metric"])
    if not np.isfinite(row["change"]):
        return label
    return f"{label} {row['change']:+.1%} [{row['change_lo']:+.1%}, {row['change_hi']:+.1%}]"


_PRIORITY = {"defects": 0, "latency": 2, "throughput": 3, "failures": 4, "failure kinds": 5}


def _by_priority(m: pd.DataFrame, primary: str) -> pd.DataFrame:
    """Rows in headline order: defects, the primary request, other latency, the rest."""
    rank = m["section"].map(_PRIORITY).fillna(9) - ((m["name"] == primary) * 1.5)
    return m.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")


def headline_verdict(m: pd.DataFrame, primary: str) -> Verdict:
    """Worse if any metric is worse; else better if any is better; else the primary
    request's p50 decides (inconclusive, negligible or no detectable change)."""
    if (m["verdict"] == WORSE).any():
        return WORSE
    if (m["verdict"] == BETTER).any():
        return BETTER
    prim = m[(m["name"] == primary) & (m["metric"] == "p50")]
    return Verdict(prim["verdict"].iloc[0]) if not prim.empty else INCONCLUSIVE


def _headline(m: pd.DataFrame, primary: str, model: NoiseModel) -> tuple[Verdict, str, list[str]]:
    ordered = _by_priority(m, primary)
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
