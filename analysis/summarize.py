"""Summaries of a run or a group: exact percentiles with confidence intervals.

Percentiles are computed from the raw rows (numpy's default linear
interpolation between order statistics), never from Locust's rounded buckets.
Their confidence intervals are distribution-free *order-statistic* intervals:
for the q-quantile of n values, the interval runs from the l-th to the u-th
smallest value, with l and u the alpha/2 and 1-alpha/2 quantiles of
Binomial(n, q) (+1 for u), which covers the true quantile with probability
>= the confidence level for any continuous distribution. No resampling is
needed, so it costs one sort. When n is too small for a bound to exist (e.g.
p99.9 of 500 values) that bound is NaN ("open").

Latency statistics use the successful rows of each request name. Failures,
close codes and defects are counted per agent run by the one rule of
:mod:`resultsformat.counting`, the rule every screen uses. The warm-up cut
applies to latency and throughput only: failures, close codes, isolation
violations and dropped iterations count every row of the run (a race during
the ramp-up is still a defect). Dropped open-model iterations never started,
and interrupted runs were cut by the end of the load: both are counted, but
not as requests. ``late_frame`` rows are not requests either: each moves one
run to a new outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Run, RunGroup, as_group
from analysis.steady import Warmup, WarmupCut, apply_warmup, primary_name, warmup_cuts
from resultsformat import (
    LATE_FRAME,
    NOT_REQUEST_KINDS,
    RESPONSE,
    RunCounts,
    count_runs,
    requests_by_name,
)

QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)
ISOLATION = "isolation_violation"
DROPPED = "dropped"
CLOSE_1011 = 1011


def qlabel(q: float) -> str:
    """``0.5 -> 'p50'``, ``0.999 -> 'p99.9'``."""
    return "p" + f"{q * 100:.10g}"


def quantiles_sorted(x: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """numpy's default (linear) quantiles of an already sorted array."""
    n = x.size
    if n == 0:
        return np.full(len(qs), np.nan)
    h = (n - 1) * np.asarray(qs, dtype=float)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return np.asarray(x[lo] + (h - lo) * (x[hi] - x[lo]))


def order_stat_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int]:
    """0-based indices (lo, hi) of the order-statistic interval; -1 / n mean open."""
    alpha = 1.0 - confidence
    lo = int(stats.binom.ppf(alpha / 2, n, q)) - 1
    hi = int(stats.binom.ppf(1 - alpha / 2, n, q))
    return lo, hi


def quantile_ci(x: np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the q-quantile of sorted ``x``; open bounds are NaN."""
    n = x.size
    if n == 0:
        return (np.nan, np.nan, np.nan)
    est = float(quantiles_sorted(x, [q])[0])
    lo, hi = order_stat_ranks(n, q, confidence)
    lower = float(x[lo]) if 0 <= lo < n else np.nan
    upper = float(x[hi]) if 0 <= hi < n else np.nan
    return est, lower, upper


def samples_for_bounded_ci(q: float, confidence: float = 0.95) -> int:
    """Fewest values for which both order-statistic bounds of the q-quantile exist."""
    alpha = 1.0 - confidence
    return int(np.ceil(np.log(alpha / 2) / np.log(max(q, 1 - q)))) + 1


@dataclass(eq=False)
class Summary:
    """What one run (or a group of repeated runs) measured, after the warm-up cut."""

    label: str
    runs: list[str]
    meta: list[dict[str, Any]]
    warmup: dict[str, WarmupCut]
    confidence: float
    steady_s: float  # analysed seconds, summed over the runs
    rows: int  # rows analysed (after the warm-up cut)
    rows_total: int
    latency: pd.DataFrame  # index: name
    failures: pd.DataFrame  # index: name, columns: failure kinds, values: row counts
    runs_counted: RunCounts  # agent runs by outcome and close code: the one counting rule
    dropped_iterations: int
    primary: str
    samples: dict[str, np.ndarray] = field(repr=False)  # name -> sorted ok latencies
    # (run, name) -> ok count, quantiles, requests, rps (steady state), one row per run
    per_run: pd.DataFrame = field(repr=False)
    run_seconds: pd.Series = field(repr=False)  # run -> steady seconds analysed
    per_run_counts: dict[str, RunCounts] = field(repr=False)  # run -> its agent runs, counted
    per_run_requests: pd.DataFrame = field(repr=False)  # (run, name) -> requests, failed
    events: pd.DataFrame = field(repr=False)  # steady rows
    all_events: pd.DataFrame = field(repr=False)  # every row, for plots of the warm-up
    paths: list[str] = field(default_factory=list)  # the run directories

    @property
    def factory_modes(self) -> list[str]:
        return sorted({str(m["factory_mode"]) for m in self.meta if m.get("factory_mode")})

    @property
    def failure_kinds(self) -> pd.Series:
        """Failed agent runs per outcome (interrupted runs are not failures), most serious
        first."""
        return pd.Series(self.runs_counted.failures(), dtype="int64")

    @property
    def close_codes(self) -> pd.Series:
        """Agent runs per close code of their socket."""
        codes = {k: v for k, v in sorted(self.runs_counted.close_codes.items()) if v}
        return pd.Series(codes, dtype="int64")

    @property
    def isolation_violations(self) -> int:
        """Agent runs that read another user's data."""
        return self.runs_counted.isolation_violations

    @property
    def closes_1011(self) -> int:
        """Agent runs whose socket the server closed with 1011."""
        return self.runs_counted.closes_1011

    @property
    def interrupted_runs(self) -> int:
        """Agent runs cut by the end of the load: counted, not failures of the backend."""
        return self.runs_counted.interrupted


def _steady_seconds(events: pd.DataFrame, cuts: dict[str, WarmupCut]) -> pd.Series:
    last = events.groupby("run", observed=False)["elapsed_s"].max()
    cut = pd.Series({r: c.cut_s for r, c in cuts.items()})
    return (last - cut.reindex(last.index)).clip(lower=1e-9).fillna(0.0)


def summarize(
    data: Run | RunGroup | Sequence[Run],
    *,
    warmup: Warmup = "auto",
    confidence: float = 0.95,
    quantiles: Sequence[float] = QUANTILES,
) -> Summary:
    """Per-request-name counts, throughput, exact percentiles with CIs, failures."""
    group = as_group(data)
    all_events = group.events
    cuts = warmup_cuts(all_events, warmup)
    ev = apply_warmup(all_events, cuts)
    seconds = _steady_seconds(ev, cuts)
    total_s = float(seconds.sum())

    # Whole run: counts, failures, defects. Steady state only: samples, throughput.
    runs = count_runs(
        all_events["name"],
        all_events["failure_kind"],
        all_events["close_code"],
        all_events["prior_kind"],
    )
    ok_all = all_events["ok"].to_numpy()
    per_name = requests_by_name(all_events["name"], all_events["failure_kind"], ok_all, runs)
    cats = list(ev["name"].cat.categories)
    code_st = ev["name"].cat.codes.to_numpy()
    ok_st = ev["ok"].to_numpy()
    req_st = request_mask(ev)
    ms_st = ev["ms"].to_numpy()
    n_steady = np.bincount(code_st[(code_st >= 0) & req_st], minlength=len(cats))
    drop_all = (all_events["failure_kind"] == DROPPED).to_numpy()
    n_drop = all_events.loc[drop_all, "name"].value_counts()

    rows: list[dict[str, Any]] = []
    samples: dict[str, np.ndarray] = {}
    for name, counts in per_name.sort_values("rows", ascending=False, kind="stable").iterrows():
        code = cats.index(name)
        x = np.sort(ms_st[(code_st == code) & ok_st])
        x = x[~np.isnan(x)]
        samples[str(name)] = x
        requests, failed = int(counts["requests"]), int(counts["failed"])
        row: dict[str, Any] = {
            "name": str(name),
            "requests": requests,
            "failed": failed,
            "failure_rate": failed / requests if requests else np.nan,
            "dropped": int(n_drop.get(name, 0)),
            "steady_requests": int(n_steady[code]),
            "throughput_rps": n_steady[code] / total_s if total_s > 0 else np.nan,
            "samples": int(x.size),
            "mean": float(x.mean()) if x.size else np.nan,
        }
        for q in quantiles:
            est, lo, hi = quantile_ci(x, q, confidence)
            lab = qlabel(q)
            row[lab], row[f"{lab}_lo"], row[f"{lab}_hi"] = est, lo, hi
        row["max"] = float(x[-1]) if x.size else np.nan
        rows.append(row)
    latency = pd.DataFrame(rows).set_index("name")

    failed_rows = all_events[~ok_all]
    failures = (
        failed_rows.groupby(["name", "failure_kind"], observed=True)
        .size()
        .unstack(fill_value=0)
        .reindex(latency.index, fill_value=0)
    )
    failures.columns = [str(c) for c in failures.columns]
    failures.columns.name = "failure_kind"
    kind = all_events["failure_kind"]
    names_col = all_events["name"]

    per_run_counts, per_run_requests = _per_run_failures(all_events)
    return Summary(
        label=group.label,
        runs=group.run_labels,
        meta=[r.meta for r in group.runs],
        warmup=cuts,
        confidence=confidence,
        steady_s=total_s,
        rows=len(ev),
        rows_total=len(all_events),
        latency=latency,
        failures=failures,
        runs_counted=runs,
        dropped_iterations=int(((names_col == "iteration") & (kind == DROPPED)).sum()),
        primary=primary_name(all_events),
        samples=samples,
        per_run=_per_run(ev, seconds, quantiles),
        run_seconds=seconds,
        per_run_counts=per_run_counts,
        per_run_requests=per_run_requests,
        paths=[str(r.path) for r in group.runs],
        events=ev,
        all_events=all_events,
    )


def _per_run(ev: pd.DataFrame, seconds: pd.Series, quantiles: Sequence[float]) -> pd.DataFrame:
    """Per (run, name): ok count, quantiles and throughput, for run-to-run spread."""
    okv = ev[ev["ok"]]
    out = []
    for (run, name), x in okv.groupby(["run", "name"], observed=True)["ms"]:
        v = np.sort(x.to_numpy())
        row = {"run": run, "name": name, "ok": v.size}
        row.update(zip([qlabel(q) for q in quantiles], quantiles_sorted(v, quantiles), strict=True))
        out.append(row)
    df = pd.DataFrame(out)
    req = ev[request_mask(ev)].groupby(["run", "name"], observed=True).size()
    df = df.set_index(["run", "name"])
    df["requests"] = req.reindex(df.index).to_numpy()
    sec = seconds.reindex(df.index.get_level_values("run")).to_numpy()
    df["throughput_rps"] = df["requests"] / sec
    return df


def _per_run_failures(events: pd.DataFrame) -> tuple[dict[str, RunCounts], pd.DataFrame]:
    """Per run: its agent runs counted by the rule, and requests and failures per name."""
    counts: dict[str, RunCounts] = {}
    frames = []
    for run, ev in events.groupby("run", observed=True, sort=False):
        c = count_runs(ev["name"], ev["failure_kind"], ev["close_code"], ev["prior_kind"])
        counts[str(run)] = c
        per_name = requests_by_name(ev["name"], ev["failure_kind"], ev["ok"].to_numpy(), c)
        frames.append(per_name.assign(run=str(run)).rename_axis("name").reset_index())
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        return counts, pd.DataFrame(columns=["requests", "failed"])
    return counts, table.set_index(["run", "name"])[["requests", "failed"]]


# --- over time -------------------------------------------------------------------

_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def nice_window(duration_s: float, target: int = 60) -> float:
    """A round window length giving about ``target`` windows over ``duration_s``."""
    raw = max(duration_s / target, 1e-9)
    return float(next((w for w in _NICE if w >= raw), _NICE[-1]))


def _windows(events: pd.DataFrame, window_s: float) -> np.ndarray:
    return np.asarray((events["elapsed_s"].to_numpy() // window_s) * window_s)


def grouped_quantiles(
    keys: np.ndarray, values: np.ndarray, qs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact (linear) quantiles of ``values`` per integer key, with one sort.

    Returns (unique keys, counts, quantiles of shape (len(keys), len(qs))).
    """
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    uniq, first, counts = np.unique(k, return_index=True, return_counts=True)
    h = (counts[:, None] - 1) * np.asarray(qs, dtype=float)[None, :]
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, counts[:, None] - 1)
    base = first[:, None]
    out = v[base + lo] + (h - lo) * (v[base + hi] - v[base + lo])
    return uniq, counts, out


def over_time(
    events: pd.DataFrame,
    *,
    window_s: float | None = None,
    names: Sequence[str] | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99),
) -> pd.DataFrame:
    """Per time window and name: requests, throughput and percentiles of ok rows.

    Runs of a group are aligned on their own first event; throughput is per run.
    """
    window_s = window_s or nice_window(float(events["elapsed_s"].max()))
    n_runs = max(1, events["run"].nunique()) if "run" in events else 1
    cats = list(events["name"].cat.categories)
    code = events["name"].cat.codes.to_numpy().astype(np.int64)
    win = (events["elapsed_s"].to_numpy() // window_s).astype(np.int64)
    keep = request_mask(events) & (code >= 0)
    if names is not None:
        keep &= np.isin(code, [cats.index(n) for n in names if n in cats])
    key = win * len(cats) + code
    rk, rcount = np.unique(key[keep], return_counts=True)
    ok = keep & events["ok"].to_numpy()
    qk, _, qv = grouped_quantiles(key[ok], events["ms"].to_numpy()[ok], quantiles)
    out = pd.DataFrame(
        {"t_s": (rk // len(cats)) * window_s, "name": [cats[c] for c in rk % len(cats)]}
    )
    out["requests"] = rcount
    pos = np.searchsorted(rk, qk)  # every ok key is also a request key
    for j, q in enumerate(quantiles):
        col = np.full(rk.size, np.nan)
        col[pos] = qv[:, j]
        out[qlabel(q)] = col
    out["throughput_rps"] = out["requests"] / window_s / n_runs
    return out


def request_mask(events: pd.DataFrame) -> np.ndarray:
    """Rows that are requests: not dropped, not interrupted, not a late frame."""
    kinds = events["failure_kind"].isin(NOT_REQUEST_KINDS).to_numpy()
    return np.asarray(~kinds & (events["name"] != LATE_FRAME).to_numpy())


# Failed rows that are not agent runs: a step before the run, or a start never made.
_BEFORE_RUN = ("login", "ws_connect", "iteration")


def failures_over_time(events: pd.DataFrame, *, window_s: float | None = None) -> pd.DataFrame:
    """Failures per time window (index ``t_s``) and kind (columns).

    Agent runs are counted by the counting rule (a late frame in the window of its
    run's start); failed logins, connects and dropped iterations, which are not runs, by row.
    Summed over the windows, each column is the run summary's figure.
    """
    window_s = window_s or nice_window(float(events["elapsed_s"].max()))
    t = pd.Series(_windows(events, window_s), index=events.index, name="t_s")
    names = events["name"]
    runs = names.isin([RESPONSE, LATE_FRAME]).to_numpy()
    rows: dict[float, dict[str, int]] = {}
    for w, sub in events[runs].groupby(t[runs], sort=True):
        counts = count_runs(sub["name"], sub["failure_kind"], sub["close_code"], sub["prior_kind"])
        rows[float(w)] = {**counts.failures(), "interrupted": counts.interrupted}
    before = (names.isin(_BEFORE_RUN) & ~events["ok"]).to_numpy()
    kinds = events["failure_kind"].astype(object).where(events["failure_kind"].notna(), "unknown")
    for (w, kind), n in events[before].groupby([t[before], kinds[before]]).size().items():
        row = rows.setdefault(float(w), {})
        row[str(kind)] = row.get(str(kind), 0) + int(n)
    table = pd.DataFrame.from_dict(rows, orient="index").fillna(0).astype("int64")
    table = table.loc[:, (table != 0).any(axis=0)] if not table.empty else table
    all_t = np.arange(0, float(events["elapsed_s"].max()) + window_s, window_s)
    table.index.name = "t_s"
    return table.reindex(all_t[all_t <= events["elapsed_s"].max()], fill_value=0)
