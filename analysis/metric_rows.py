"""The rows of a comparison's table: latency per name and percentile, defects and failure
rates, throughput; each with its estimate, interval, p-value and what would decide it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from analysis.noise import NoiseModel
from analysis.quantiles import block_bootstrap, block_quantiles
from analysis.scan import whole_ticks
from analysis.stats import bootstrap_quantile, iqr_of, ks_p, mann_whitney_p, rank_test_sample
from analysis.summarize import (
    DROPPED,
    ISOLATION,
    nice_window,
    qlabel,
    quantiles_sorted,
    samples_for_bounded_ci,
)
from analysis.summary import CLOSE_1011, Summary
from analysis.verdicts import BETTER, INCONCLUSIVE, MAX_MORE_RUNS, SAME, WORSE, Thresholds

BLOCK_REPS = 1000  # block-bootstrap draws a side and request name
MIN_TEST_BLOCKS = 5  # blocks a side for the median over time blocks


def _p_value(est: float, se: float, df: int) -> float:
    """Two-sided p-value of ``est`` under a t distribution with ``se`` and ``df``."""
    t = abs(est) / se if se > 0 else (np.inf if est else 0.0)
    return float(2 * stats.t.sf(t, max(1, df))) if np.isfinite(t) else 0.0


def _interval(est: float, se: float, df: int, th: Thresholds) -> tuple[float, float]:
    """The ``th.confidence`` interval of ``est`` (on its own scale)."""
    half = float(stats.t.ppf(0.5 + th.confidence / 2, max(1, df))) * se
    return est - half, est + half


def _t_test(
    row: dict[str, Any], est: float, se: float, df: int, th: Thresholds, on_log: bool
) -> None:
    """Fill the p-value and the interval of ``est`` (a log ratio, or a difference)."""
    p = _p_value(est, se, df)
    row["p_value"] = max(p, row["p_value"]) if np.isfinite(row["p_value"]) else p
    lo, hi = _interval(est, se, df, th)
    if on_log:
        row["change_lo"], row["change_hi"] = float(np.exp(lo) - 1), float(np.exp(hi) - 1)
    else:
        row["diff_lo"], row["diff_hi"] = lo, hi
    row["_est"], row["_se"], row["_df"] = est, se, max(1, df)


def _widen(row: dict[str, Any], est: float, se: float, df: int, th: Thresholds) -> None:
    """Where the time blocks' standard error makes the test less sure, take it: the larger
    p-value (with its standard error and df, which say how many more runs would decide)
    and the union of the intervals. Never more sure than the run-to-run noise allows (the
    blocks' many degrees of freedom must not shrink an interval the calibration set)."""
    p = _p_value(est, se, df)
    if p > row["p_value"]:
        row["p_value"], row["_se"], row["_df"] = p, se, max(1, df)
        row["_blocks"] = True
    lo, hi = (float(np.exp(v) - 1) for v in _interval(est, se, df, th))
    if lo < row["change_lo"] or hi > row["change_hi"]:
        row["change_lo"] = min(row["change_lo"], lo)
        row["change_hi"] = max(row["change_hi"], hi)
        row["_blocks"] = True


def _no_noise(row: dict[str, Any], model: NoiseModel, what: str) -> None:
    row["verdict"] = INCONCLUSIVE
    row["more_runs"] = max(0, 2 - min(model.runs))
    row["note"] = (
        f"one run per side and no calibration of {what}: run-to-run noise unknown "
        "(repeat the runs, or give --calibration)"
    )


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
        "_blocks": False,  # the time blocks made this row less sure (its note says so)
    }
    base.update(kw)
    return base


def latency_rows(
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
    block_rng = np.random.default_rng([th.seed, 2])
    for name in names:
        b = sb.samples.get(name, np.empty(0))
        c = sc.samples.get(name, np.empty(0))
        if b.size == 0 and c.size == 0:
            continue
        tests_done = False
        mwu = ksp = np.nan
        iqr = (iqr_of(b) + iqr_of(c)) / 2 if b.size and c.size else np.nan
        sides = (sb, sc) if th.time_blocks else ()
        noises = (_block_noise(x, name, quantiles, block_rng) for x in sides)
        block_sides = [v for v in noises if v is not None]
        block_stats = [_side_block_quantiles(x, name, quantiles) for x in sides]
        for j, q in enumerate(quantiles):
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
                est = float(np.log(qc / qb))
                _t_test(row, est, se, noise.df, th, on_log=True)
                blocks = block_variance([(v[j], d) for v, d in block_sides if v[j] > 0])
                if blocks is not None:
                    _widen(row, est, float(np.sqrt(blocks[0])), blocks[1], th)
                p_blocks = _median_p(block_stats, j, se, noise.df)
                if p_blocks > row["p_value"]:
                    row["p_value"], row["_blocks"] = p_blocks, True
            rows.append(row)
    return rows


def _block_noise(
    s: Summary, name: str, qs: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, int] | None:
    """Variance of the log of each of a side's percentiles under the block bootstrap, and
    its degrees of freedom (time blocks with rows - 1, summed over runs); None without a
    run with two blocks with rows."""
    runs = [h for (_, n), h in s.per_block.items() if n == name]
    done = block_bootstrap(runs, qs, BLOCK_REPS, rng) if runs else None
    if done is None:
        return None
    draws, df = done
    return draws.var(axis=0, ddof=1), df


def _side_block_quantiles(s: Summary, name: str, qs: Sequence[float]) -> np.ndarray:
    """Each percentile of each time block of a side's runs, shape ``(blocks, len(qs))``."""
    per = [block_quantiles(h, qs) for (_, n), h in s.per_block.items() if n == name]
    return np.concatenate(per) if per else np.empty((0, len(qs)))


def _median_p(sides: Sequence[np.ndarray], j: int, se: float, df: int) -> float:
    """The p-value of the change in the *median over time blocks* of a percentile (column
    ``j`` of each side's block percentiles), under the same run-to-run standard error
    and df as the whole-run test; 0 (no say) under :data:`MIN_TEST_BLOCKS` blocks (of
    :data:`MIN_BLOCK_ROWS` rows) a side. A slow spell in fewer than half of a run's
    blocks moves its whole-run tail, not this median; a real change moves both. It only
    raises a row's p-value; the interval is the t-test's."""
    if not sides or se <= 0:
        return 0.0
    b, c = (x[:, j] for x in sides)
    if min(b.size, c.size) < MIN_TEST_BLOCKS:
        return 0.0
    mb, mc = float(np.median(b)), float(np.median(c))
    if mb <= 0 or mc <= 0:
        return 0.0
    return _p_value(float(np.log(mc / mb)), se, df)


def block_variance(sides: Sequence[tuple[float, int]]) -> tuple[float, int] | None:
    """Variance of log(candidate / baseline) from the sides' block bootstraps, with
    Welch-Satterthwaite degrees of freedom; None when neither side has blocks.

    Rows of one run are not independent: a few slow seconds (a neighbour's burst, a
    pause) move a whole run's percentile. Resampling a run's time blocks shows how much,
    and a percentile that depends on a few seconds is judged that uncertain.
    """
    if not sides:
        return None
    var = sum(v for v, _ in sides)
    denom = sum(v * v / df for v, df in sides)
    df = int(var * var / denom) if denom > 0 else min(df for _, df in sides)
    return var, max(1, df)


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


def failure_rows(model: NoiseModel, th: Thresholds) -> list[dict[str, Any]]:
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


def throughput_row(model: NoiseModel, th: Thresholds) -> dict[str, Any]:
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
    iqr = (iqr_of(b) + iqr_of(c)) / 2
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


def more_runs_needed(
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
