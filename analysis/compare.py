"""Compare a candidate with a baseline (two runs, or two groups of repeated runs).

Every metric gets a relative change with a confidence interval, p-values and
one of four verdicts. The rule (documented in the report too):

* **worse / better** needs *both* statistical significance *and* a practical
  effect. Significant: the change's confidence interval excludes 0 *and* the
  metric's p-value is below alpha / m (Bonferroni over the m metrics tested,
  family-wise alpha = 0.05), so a report with 40 metrics does not cry wolf.
  Latency p-values are the smaller of Mann-Whitney U and Kolmogorov-Smirnov,
  doubled (two tests). Practical: |relative change| >= 5% and |change| >= 0.1
  IQR (latency; the IQR of both sides averaged), or >= 0.1 percentage point
  (failure rates). With repeated runs, the interval also carries the
  run-to-run variance of the per-run statistic, and the change must exceed the
  largest spread between repeated runs of one build.
* **no detectable change**: the interval lies inside the practical threshold
  (any change is too small to matter), or the change is significant but below
  the threshold.
* **inconclusive**: too few samples to tell; the report says roughly how many
  more per side would decide (interval width scales as 1/sqrt(n)).

Isolation violations and 1011 closes are zero-tolerance defects: present on
one side only is worse (or better) regardless of the counts.

Intervals for a latency quantile's relative change come from a bootstrap that
never resamples the rows: the k-th order statistic of a bootstrap resample of
n sorted values is ``x[ceil(n * U) - 1]`` with ``U ~ Beta(k, n - k + 1)``, so
2,000 exact bootstrap draws cost 2,000 look-ups, whatever n is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Run, RunGroup
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

BETTER = "better"
WORSE = "worse"
SAME = "no detectable change"
INCONCLUSIVE = "inconclusive"
VERDICTS = (WORSE, BETTER, INCONCLUSIVE, SAME)
COMPARE_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)
_MAX_MORE_FACTOR = 1000.0


@dataclass(frozen=True)
class Thresholds:
    """What counts as a practical change, and how sure a verdict must be."""

    min_rel_change: float = 0.05  # |relative change| for latency and throughput
    min_effect_iqr: float = 0.1  # |change| in units of the (averaged) IQR
    min_rate_change: float = 0.001  # failure rates: 0.1 percentage point, absolute
    # Run-to-run variation of a latency statistic that one run cannot show:
    # assumed for a side with a single run (coefficient of variation), measured
    # for a side with repeated runs. On a shared 2-core machine two runs of one
    # build differed by up to 20% at p50; 5% keeps a 20 ms slowdown decisive.
    single_run_cv: float = 0.05
    # Below a millisecond, scheduler jitter on a loaded machine is as large as the change.
    min_abs_change_ms: float = 1.0
    alpha: float = 0.05  # family-wise, Bonferroni over the metrics tested
    confidence: float = 0.95
    min_samples: int = 20
    bootstrap: int = 2000
    seed: int = 0


@dataclass(eq=False)
class Comparison:
    """The per-metric table, the headline verdict and the notes that explain it."""

    baseline: Summary
    candidate: Summary
    metrics: pd.DataFrame
    verdict: str
    headline: str
    notes: list[str]
    thresholds: Thresholds
    alpha_per_metric: float
    primary: str
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
    """Two-sided two-sample Kolmogorov-Smirnov p-value."""
    if b.size == 0 or c.size == 0:
        return np.nan
    return float(stats.ks_2samp(b, c).pvalue)


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


def _more_samples(
    n: int, half_width: float, estimate: float, threshold: float, z_ratio: float
) -> int:
    """Extra samples per side that would shrink the interval enough to decide.

    Deciding means either "no change" (interval inside +-threshold) or a
    significant change (interval off 0 at the per-metric alpha: ``z_ratio`` is
    z(confidence) / z(alpha per metric)); whichever needs fewer samples.
    """
    a = abs(estimate)
    target = max(threshold - a, a * z_ratio)
    if not np.isfinite(half_width) or half_width <= 0:
        return 0
    if target <= 0:
        return int(n * _MAX_MORE_FACTOR)
    factor = min((half_width / target) ** 2, _MAX_MORE_FACTOR)
    return max(1, int(np.ceil(n * (factor - 1))))


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
        "verdict": "",
        "more_samples": np.nan,
        "note": "",
        "_kind": "",  # how to judge: quantile / rate / defect / throughput / fixed
        "_spread": 0.0,  # run-to-run spread (ms) the change must exceed
    }
    base.update(kw)
    return base


def _latency_rows(
    sb: Summary, sc: Summary, th: Thresholds, quantiles: Sequence[float], primary: str
) -> list[dict[str, Any]]:
    rows = []
    z = stats.norm.ppf(0.5 + th.confidence / 2)
    names = [n for n in sb.latency.index if n in sc.latency.index]
    names += [n for n in sc.latency.index if n not in sb.latency.index]
    names += [n for n in sb.latency.index if n not in names]
    names.sort(key=lambda n: n != primary)  # the story's request first
    rng = np.random.default_rng(th.seed)
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
                mwu, ksp = mann_whitney_p(b, c), ks_p(b, c)
                tests_done = True
            qb, qc = row["baseline"], row["candidate"]
            row["mwu_p"], row["ks_p"] = mwu, ksp
            row["p_value"] = min(1.0, 2 * min(mwu, ksp))
            row["diff"] = qc - qb
            row["change"] = qc / qb - 1 if qb > 0 else np.nan
            row["effect_iqr"] = (qc - qb) / iqr if iqr > 0 else (0.0 if qc == qb else np.inf)
            db = bootstrap_quantile(b, q, th.bootstrap, rng)
            dc = bootstrap_quantile(c, q, th.bootstrap, rng)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = dc / db
            lo_p, hi_p = 50 - 50 * th.confidence, 50 + 50 * th.confidence
            row["change_lo"], row["change_hi"] = np.nanpercentile(ratio, [lo_p, hi_p]) - 1
            row["diff_lo"], row["diff_hi"] = np.percentile(dc - db, [lo_p, hi_p])
            spread = _run_spread(sb, sc, name, lab, th.single_run_cv)
            if spread is not None and qb > 0 and qc > 0:
                var_between, rng_ms = spread
                log_draws = np.log(ratio[np.isfinite(ratio) & (ratio > 0)])
                se = np.sqrt(log_draws.var() + var_between)
                centre = np.log(qc / qb)
                row["change_lo"] = float(np.exp(centre - z * se) - 1)
                row["change_hi"] = float(np.exp(centre + z * se) - 1)
                row["_spread"] = rng_ms
                # Rank tests treat rows as independent; with run-to-run variation in
                # the picture, the change is only as significant as it is against it.
                p_between = float(2 * stats.norm.sf(abs(centre) / se)) if se > 0 else 0.0
                row["p_value"] = max(row["p_value"], p_between)
            rows.append(row)
    return rows


def _run_spread(
    sb: Summary, sc: Summary, name: str, lab: str, single_run_cv: float
) -> tuple[float, float] | None:
    """Between-run variance of log(statistic)/k summed over sides, and the widest range.

    A side with one run adds the assumed ``single_run_cv`` squared, plus the
    spread between its time batches.
    """
    var, widest, found = 0.0, 0.0, False
    for s in (sb, sc):
        if len(s.runs) == 1 and single_run_cv > 0:
            var += single_run_cv**2
            found = True
        if s.per_run.empty or lab not in s.per_run:
            continue
        try:
            vals = s.per_run.xs(name, level="name")[lab].to_numpy(dtype=float)
        except KeyError:
            continue
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size < 2:
            continue
        found = True
        var += float(np.log(vals).var(ddof=1)) / vals.size
        widest = max(widest, float(vals.max() - vals.min()))
    return (var, widest) if found else None


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
    # Agresti-Caffo interval for a difference of proportions (add one success and failure).
    z = stats.norm.ppf(0.5 + th.confidence / 2)
    ab, ac = (kb + 1) / (nb + 2), (kc + 1) / (nc + 2)
    se = np.sqrt(ab * (1 - ab) / (nb + 2) + ac * (1 - ac) / (nc + 2))
    row["diff_lo"], row["diff_hi"] = (ac - ab) - z * se, (ac - ab) + z * se
    if kb == 0 and kc == 0:
        row["p_value"] = 1.0
        row["_kind"] = "fixed"
        row["verdict"] = SAME
        row["note"] = "none on either side"
    else:
        row["p_value"] = float(stats.fisher_exact([[kb, nb - kb], [kc, nc - kc]]).pvalue)
    if zero_tolerance and (kb == 0) != (kc == 0):
        row["_kind"] = "fixed"
        row["verdict"] = WORSE if kc > 0 else BETTER
        row["note"] = "zero tolerance: present on one side only"
    elif zero_tolerance:
        row["_kind"] = "defect"
    return row


def _failure_rows(sb: Summary, sc: Summary, th: Thresholds) -> list[dict[str, Any]]:
    rows = []
    for name in sb.latency.index.union(sc.latency.index, sort=False):
        nb = int(sb.latency["requests"].get(name, 0))
        nc = int(sc.latency["requests"].get(name, 0))
        if nb == 0 and nc == 0:
            continue
        kb = int(sb.latency["failed"].get(name, 0))
        kc = int(sc.latency["failed"].get(name, 0))
        rows.append(
            _rate_row(
                section="failures",
                name=name,
                metric="failure rate",
                kb=kb,
                nb=nb,
                kc=kc,
                nc=nc,
                th=th,
            )
        )
    # Defects and failure kinds per agent run (the counting rule), over the runs judged
    # (interrupted runs were cut by the end of the load, not by the backend).
    nb, nc = sb.runs_counted.judged, sc.runs_counted.judged
    kinds_b, kinds_c = sb.failure_kinds, sc.failure_kinds
    rows.append(
        _rate_row(
            section="defects",
            name="all",
            metric="isolation violations",
            kb=sb.isolation_violations,
            nb=nb,
            kc=sc.isolation_violations,
            nc=nc,
            th=th,
            zero_tolerance=True,
        )
    )
    rows.append(
        _rate_row(
            section="defects",
            name="all",
            metric=f"{CLOSE_1011} closes",
            kb=sb.closes_1011,
            nb=nb,
            kc=sc.closes_1011,
            nc=nc,
            th=th,
            zero_tolerance=True,
        )
    )
    it_b = sb.latency["requests"].get("iteration", 0) + sb.dropped_iterations
    it_c = sc.latency["requests"].get("iteration", 0) + sc.dropped_iterations
    if it_b or it_c:
        rows.append(
            _rate_row(
                section="defects",
                name="iteration",
                metric="dropped iterations",
                kb=sb.dropped_iterations,
                nb=int(it_b),
                kc=sc.dropped_iterations,
                nc=int(it_c),
                th=th,
            )
        )
    for kind in kinds_b.index.union(kinds_c.index, sort=False):
        if kind in (ISOLATION, DROPPED):
            continue
        rows.append(
            _rate_row(
                section="failure kinds",
                name="all",
                metric=str(kind),
                kb=int(kinds_b.get(kind, 0)),
                nb=nb,
                kc=int(kinds_c.get(kind, 0)),
                nc=nc,
                th=th,
            )
        )
    return rows


def window_throughput(s: Summary, window_s: float) -> np.ndarray:
    """Requests per second in each whole steady-state window of each run."""
    ev = s.events
    ev = ev[(ev["failure_kind"] != DROPPED).to_numpy()]
    out = []
    codes = ev["run"].cat.codes.to_numpy()
    t_all = ev["elapsed_s"].to_numpy()
    for i, run in enumerate(ev["run"].cat.categories):
        t = t_all[codes == i]
        if t.size == 0:
            continue
        start = s.warmup[str(run)].cut_s
        n_win = int((t.max() - start) // window_s)  # whole windows only
        if n_win < 1:
            continue
        idx = ((t - start) // window_s).astype(np.int64)
        counts = np.bincount(idx[idx < n_win], minlength=n_win)
        out.append(counts / window_s)
    return np.concatenate(out) if out else np.empty(0)


def _throughput_row(sb: Summary, sc: Summary, th: Thresholds) -> dict[str, Any]:
    row = _row(
        section="throughput",
        name="all",
        metric="requests/s",
        unit="rps",
        lower_is_better=False,
        _kind="throughput",
    )
    per_run_s = min(sb.steady_s / len(sb.runs), sc.steady_s / len(sc.runs))
    window = nice_window(per_run_s, target=30)
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
    z = stats.norm.ppf(0.5 + th.confidence / 2)
    se_b, se_c = b.std(ddof=1) / np.sqrt(b.size), c.std(ddof=1) / np.sqrt(c.size)
    se_r = np.sqrt((se_c / mb) ** 2 + (mc * se_b / mb**2) ** 2) if mb > 0 else np.nan
    row["change_lo"], row["change_hi"] = row["change"] - z * se_r, row["change"] + z * se_r
    se_d = np.hypot(se_b, se_c)
    row["diff_lo"], row["diff_hi"] = row["diff"] - z * se_d, row["diff"] + z * se_d
    row["mwu_p"], row["ks_p"] = mann_whitney_p(b, c), ks_p(b, c)
    row["p_value"] = min(1.0, 2 * min(row["mwu_p"], row["ks_p"]))
    iqr = (_iqr(b) + _iqr(c)) / 2
    row["effect_iqr"] = row["diff"] / iqr if iqr > 0 else np.nan
    return row


def _judge(row: dict[str, Any], th: Thresholds, alpha_m: float) -> None:
    """Fill ``verdict``, ``more_samples`` and ``note`` for a row not yet judged."""
    if row["verdict"]:
        return
    kind = row["_kind"]
    if kind in ("rate", "defect"):
        est, lo, hi = row["diff"], row["diff_lo"], row["diff_hi"]
        thr = th.min_rate_change if kind == "rate" else 0.0
        practical = abs(est) >= thr and (kind == "rate" or abs(row["change"]) >= th.min_rel_change)
        n = min(row["n_baseline"], row["n_candidate"])
    else:
        est, lo, hi = row["change"], row["change_lo"], row["change_hi"]
        thr = th.min_rel_change
        eff = row["effect_iqr"]
        # An IQR of 0 gives an infinite effect; no IQR (NaN) leaves the relative rule alone.
        practical = abs(est) >= thr and (np.isnan(eff) or abs(eff) >= th.min_effect_iqr)
        if kind == "quantile":
            practical = practical and abs(row["diff"]) >= th.min_abs_change_ms
        n = min(row["n_baseline"], row["n_candidate"])
    if not np.isfinite(est):
        row["verdict"] = INCONCLUSIVE
        row["note"] = "no finite estimate"
        return
    off_zero = lo > 0 or hi < 0
    significant = off_zero and row["p_value"] < alpha_m
    up = est > 0
    worse = up if row["lower_is_better"] else not up
    if significant and practical:
        if abs(row["diff"]) <= row["_spread"]:
            row["verdict"] = INCONCLUSIVE
            row["note"] = "change within the run-to-run spread (or, for one run, the spread "
            row["note"] += "between its time batches); more runs would decide"
            return
        row["verdict"] = WORSE if worse else BETTER
        return
    inside = thr > 0 and -thr < lo and hi < thr
    if inside:
        row["verdict"] = SAME
        return
    if significant:
        row["verdict"] = SAME
        row["note"] = "significant but below the practical threshold"
        return
    if thr > 0 and abs(est) < thr:
        row["verdict"] = SAME
        row["note"] = "not significant, and the estimate is below the practical threshold"
        return
    row["verdict"] = INCONCLUSIVE
    z_ratio = stats.norm.ppf(0.5 + th.confidence / 2) / stats.norm.ppf(1 - alpha_m / 2)
    row["more_samples"] = _more_samples(n, (hi - lo) / 2, est, thr, z_ratio)
    row["note"] = "interval too wide to tell"
    if kind == "throughput":
        row["note"] += f" (samples are {row['window_s']:g} s windows)"


def compare(
    baseline: Summary | Run | RunGroup | Sequence[Run],
    candidate: Summary | Run | RunGroup | Sequence[Run],
    *,
    warmup: Warmup = "auto",
    thresholds: Thresholds | None = None,
    quantiles: Sequence[float] = COMPARE_QUANTILES,
) -> Comparison:
    """Compare ``candidate`` with ``baseline``: per-metric table and a headline verdict."""
    th = thresholds or Thresholds()
    sb = baseline if isinstance(baseline, Summary) else summarize(baseline, warmup=warmup)
    sc = candidate if isinstance(candidate, Summary) else summarize(candidate, warmup=warmup)
    primary = sc.primary if sc.primary in sb.samples else sb.primary
    rows = _latency_rows(sb, sc, th, quantiles, primary)
    rows += [_throughput_row(sb, sc, th)]
    rows += _failure_rows(sb, sc, th)
    tested = [r for r in rows if not r["verdict"] and np.isfinite(r["p_value"])]
    alpha_m = th.alpha / max(1, len(tested))
    for r in rows:
        _judge(r, th, alpha_m)
    metrics = pd.DataFrame(rows)
    metrics = metrics.drop(columns=[c for c in metrics.columns if c.startswith("_")])
    verdict, headline, notes = _headline(metrics, primary, sb, sc, th)
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


def _headline(
    m: pd.DataFrame, primary: str, sb: Summary, sc: Summary, th: Thresholds
) -> tuple[str, str, list[str]]:
    ordered = _by_priority(m, primary)
    worse = ordered[ordered["verdict"] == WORSE]
    better = ordered[ordered["verdict"] == BETTER]
    prim = m[(m["name"] == primary) & (m["metric"] == "p50")]
    prim_verdict = prim["verdict"].iloc[0] if not prim.empty else INCONCLUSIVE
    if not worse.empty:
        verdict = WORSE
    elif not better.empty:
        verdict = BETTER
    elif prim_verdict == INCONCLUSIVE:
        verdict = INCONCLUSIVE
    else:
        verdict = SAME
    parts = []
    if not worse.empty:
        parts.append("worse: " + "; ".join(describe_change(r) for _, r in worse.head(3).iterrows()))
    if not better.empty:
        parts.append(
            "better: " + "; ".join(describe_change(r) for _, r in better.head(3).iterrows())
        )
    if not parts:
        parts.append(describe_change(prim.iloc[0]) if not prim.empty else primary)
    headline = f"{verdict.capitalize()} - " + " | ".join(parts)

    notes = []
    inc = ordered[ordered["verdict"] == INCONCLUSIVE]
    if not inc.empty:
        listed = ", ".join(f"{r['name']} {r['metric']}" for _, r in inc.iterrows())
        notes.append(
            f"inconclusive ({len(inc)}): {listed}; the table says about how many more "
            "samples per side would decide each"
        )
    for s, side in ((sb, "baseline"), (sc, "candidate")):
        cuts = ", ".join(f"{c.run} {c.cut_s:.1f} s" for c in s.warmup.values())
        rule = next(iter(s.warmup.values())).rule
        notes.append(f"{side} warm-up cut ({rule}): {cuts}")
        ended = [m_.get("end_reason") for m_ in s.meta if m_.get("end_reason") != "completed"]
        if ended:
            notes.append(
                f"{side}: {len(ended)} run(s) did not complete ({', '.join(map(str, ended))})"
            )
    return verdict, headline, notes
