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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Run, RunGroup, as_group, concat_events, normalise
from analysis.scan import RunScan, scan_run, ticks_in
from analysis.steady import Warmup, WarmupCut, apply_warmup, detect_from_ticks, primary_of
from resultsformat import LATE_FRAME, NOT_REQUEST_KINDS, RESPONSE, RunCounts, count_runs
from resultsformat.counting import requests_table

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
    """What one run (or a group of repeated runs) measured, after the warm-up cut.

    Built by ``summarize`` from streamed files: it holds the sorted steady-state
    samples and per-tick counts (:mod:`analysis.scan`), not the rows. ``events`` and
    ``all_events`` read the rows when asked (notebooks, small runs).
    """

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
    scans: list[RunScan] = field(default_factory=list, repr=False)  # per run, samples taken
    cut_ticks: dict[str, int] = field(default_factory=dict, repr=False)  # run -> first steady tick
    group: RunGroup | None = field(default=None, repr=False)
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

    @property
    def last_s(self) -> float:
        """Seconds from a run's first event to its last (the longest run of the group)."""
        return max((sc.last_s for sc in self.scans), default=0.0)

    # --- rows, read on request -----------------------------------------------------------

    @property
    def all_events(self) -> pd.DataFrame:
        """Every row of every run (read from the files on first use)."""
        if self.group is None:
            raise ValueError("this summary was not made from runs on disk")
        return self.group.events

    @property
    def events(self) -> pd.DataFrame:
        """The steady-state rows: each run's rows from its warm-up cut on."""
        return apply_warmup(self.all_events, self.warmup)

    @property
    def failure_events(self) -> pd.DataFrame:
        """Rows that failed or moved an agent run's outcome, every run (``elapsed_s``, ``run``)."""
        return _stack([(sc.label, sc.failure_events) for sc in self.scans])

    @property
    def plot_events(self) -> pd.DataFrame:
        """The plots' sample of successful rows (every one, below ``scan.PLOT_ROWS`` a run)."""
        return _stack([(sc.label, sc.plot_events) for sc in self.scans])

    # --- windows, from the per-tick counts ------------------------------------------------

    def requests_per_window(self, window_s: float, *, steady: bool = False) -> pd.DataFrame:
        """Request rows per window (rows) and name (columns), summed over the runs; with
        ``steady``, per run, whole windows counted from each run's cut (a MultiIndex)."""
        frames = []
        for sc in self.scans:
            per = ticks_in(window_s, sc.tick_s)
            start = self.cut_ticks.get(sc.label, 0) if steady else 0
            req = sc.requests[:, start:]
            n_win = -(-req.shape[1] // per)
            if steady:
                n_win = int((sc.last_s - start * sc.tick_s) // window_s)
                req = req[:, : n_win * per]
            if n_win < 1:
                continue
            padded = np.zeros((req.shape[0], n_win * per), np.int64)
            padded[:, : req.shape[1]] = req
            counts = padded.reshape(req.shape[0], n_win, per).sum(axis=2)
            t = np.arange(n_win) * window_s
            frame = pd.DataFrame(counts.T, index=pd.Index(t, name="t_s"), columns=sc.names.values)
            frames.append(frame.assign(run=sc.label).set_index("run", append=True) if steady
                          else frame)  # fmt: skip
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames).fillna(0).astype("int64")
        return out if steady else out.groupby(level="t_s").sum()

    def over_time(
        self,
        *,
        window_s: float | None = None,
        names: Sequence[str] | None = None,
        quantiles: Sequence[float] = (0.5, 0.95, 0.99),
    ) -> pd.DataFrame:
        """Per window and name: requests and throughput (exact, per run) and percentiles of
        successful rows (of the plots' sample: exact below ``scan.PLOT_ROWS`` rows a run)."""
        window_s = window_s or nice_window(self.last_s)
        counts = self.requests_per_window(window_s)
        if counts.empty:
            return pd.DataFrame(columns=["t_s", "name", "requests", "throughput_rps"])
        long = counts.stack().rename("requests").reset_index()
        long.columns = ["t_s", "name", "requests"]
        long = long[long["requests"] > 0]
        if names is not None:
            long = long[long["name"].isin(list(names))]
        out = long.sort_values(["t_s", "name"]).reset_index(drop=True)
        if quantiles:
            sample = self.plot_events
            if names is not None:
                sample = sample[sample["name"].isin(list(names))]
            q = over_time(sample, window_s=window_s, quantiles=quantiles)
            out = out.merge(q[["t_s", "name", *map(qlabel, quantiles)]], how="left")
        out["throughput_rps"] = out["requests"] / window_s / max(1, len(self.scans))
        return out

    def failures_over_time(self, *, window_s: float | None = None) -> pd.DataFrame:
        """``failures_over_time`` of every run (exact: failures are kept row by row)."""
        window_s = window_s or nice_window(self.last_s)
        return failures_over_time(self.failure_events, window_s=window_s, end_s=self.last_s)


def _stack(parts: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    return concat_events([f for _, f in parts], [label for label, _ in parts])


def _sorted_samples(values: np.ndarray) -> np.ndarray:
    """Sorted, without NaN (NaN sorts last)."""
    x = np.sort(values)
    nan = int(np.count_nonzero(np.isnan(x[-1:]))) and int(np.count_nonzero(np.isnan(x)))
    return x[: x.size - nan] if nan else x


def summarize(
    data: Run | RunGroup | Sequence[Run],
    *,
    warmup: Warmup = "auto",
    confidence: float = 0.95,
    quantiles: Sequence[float] = QUANTILES,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Per-request-name counts, throughput, exact percentiles with CIs, failures.

    The runs' files are read a batch at a time (:mod:`analysis.scan`): memory is
    bounded by the successful rows of one run, 12 bytes each, not by the run's rows.
    """
    group = as_group(data)
    scans = []
    for i, run in enumerate(group.runs):
        tell = None
        if progress is not None:

            def tell(done: int, run: Run = run) -> None:  # noqa: E306
                progress(f"reading {run.label}: {done:,} of {run.rows:,} rows")

        scans.append(
            scan_run(run.label, list(run.files), normalise, rows=run.rows, seed=i, progress=tell)
        )

    # The primary name, over the whole group; then each run's cut.
    rows_by_name: dict[str, int] = {}
    for sc in scans:
        for name, n in sc.by_name["rows"].items():
            rows_by_name[str(name)] = rows_by_name.get(str(name), 0) + int(n)
    primary = primary_of(rows_by_name)
    cuts: dict[str, WarmupCut] = {}
    cut_ticks: dict[str, int] = {}
    for sc in scans:
        tick = _cut_tick(sc, warmup, primary)
        cut_ticks[sc.label] = tick
        rule = "none" if warmup in ("none", 0) else ("fixed" if warmup != "auto" else RULE_NAME)
        cuts[sc.label] = WarmupCut(sc.label, round(tick * sc.tick_s, 9), rule)
    seconds = pd.Series(
        {sc.label: max(sc.last_s - cuts[sc.label].cut_s, 1e-9) for sc in scans}, dtype=float
    )
    total_s = float(seconds.sum())

    # Counts: whole runs, by the one rule, summed over the runs.
    runs = RunCounts()
    per_run_counts: dict[str, RunCounts] = {}
    raw_total: pd.DataFrame | None = None
    request_frames = []
    for sc in scans:
        runs.merge(sc.counts)
        per_run_counts[sc.label] = sc.counts
        table = requests_table(sc.by_name, sc.counts)
        request_frames.append(table.assign(run=sc.label).rename_axis("name").reset_index())
        raw_total = sc.by_name if raw_total is None else raw_total.add(sc.by_name, fill_value=0)
    assert raw_total is not None, "a group has at least one run"
    per_name = requests_table(raw_total, runs)
    per_run_requests = (
        pd.concat(request_frames, ignore_index=True).set_index(["run", "name"])[
            ["requests", "failed"]
        ]
    )  # fmt: skip

    # Steady state: samples per run and name, sorted; the group's are all runs' together.
    per_run_samples: dict[tuple[str, str], np.ndarray] = {}
    n_steady: dict[str, int] = {}
    rows_steady = 0
    for sc in scans:
        start = cut_ticks[sc.label]
        rows_steady += int(sc.all_per_tick[start:].sum())
        for code, name in enumerate(sc.names.values):
            n_steady[name] = n_steady.get(name, 0) + int(sc.requests[code, start:].sum())
        for name in list(sc.ok_ms):
            ms, ticks = sc.ok_ms.pop(name), sc.ok_tick.pop(name)
            x = ms if start == 0 else ms[ticks >= start]
            del ms, ticks
            per_run_samples[(sc.label, name)] = _sorted_samples(x)
    samples: dict[str, np.ndarray] = {}
    failure_events = _stack([(sc.label, sc.failure_events) for sc in scans])
    ok_fail = failure_events["ok"].to_numpy(dtype=bool)
    dropped = failure_events.loc[
        (failure_events["failure_kind"] == DROPPED).to_numpy(dtype=bool), "name"
    ].value_counts()

    rows: list[dict[str, Any]] = []
    for name, counts in per_name.sort_values("rows", ascending=False, kind="stable").iterrows():
        parts = [v for (r, n), v in per_run_samples.items() if n == name]
        if len(scans) == 1:
            x = parts[0] if parts else np.empty(0)
        else:
            x = np.sort(np.concatenate(parts)) if parts else np.empty(0)
        samples[str(name)] = x
        requests, failed = int(counts["requests"]), int(counts["failed"])
        row: dict[str, Any] = {
            "name": str(name),
            "requests": requests,
            "failed": failed,
            "failure_rate": failed / requests if requests else np.nan,
            "dropped": int(dropped.get(name, 0)),
            "steady_requests": n_steady.get(str(name), 0),
            "throughput_rps": n_steady.get(str(name), 0) / total_s if total_s > 0 else np.nan,
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

    failed_rows = failure_events[~ok_fail]
    failures = (
        failed_rows.groupby(["name", "failure_kind"], observed=True)
        .size()
        .unstack(fill_value=0)
        .reindex(latency.index, fill_value=0)
    )
    failures.columns = [str(c) for c in failures.columns]
    failures.columns.name = "failure_kind"
    it_dropped = (failed_rows["name"] == "iteration") & (failed_rows["failure_kind"] == DROPPED)

    per_run = _per_run(per_run_samples, scans, cut_ticks, seconds, quantiles)
    if len(scans) > 1:
        per_run_samples.clear()  # the group's samples hold the same values, sorted together
    return Summary(
        label=group.label,
        runs=group.run_labels,
        meta=[r.meta for r in group.runs],
        warmup=cuts,
        confidence=confidence,
        steady_s=total_s,
        rows=rows_steady,
        rows_total=sum(sc.rows for sc in scans),
        latency=latency,
        failures=failures,
        runs_counted=runs,
        dropped_iterations=int(it_dropped.sum()),
        primary=primary,
        samples=samples,
        per_run=per_run,
        run_seconds=seconds,
        per_run_counts=per_run_counts,
        per_run_requests=per_run_requests,
        scans=scans,
        cut_ticks=cut_ticks,
        group=group,
        paths=[str(r.path) for r in group.runs],
    )


RULE_NAME = "auto (MSER-5)"


def _cut_tick(sc: RunScan, warmup: Warmup, primary: str) -> int:
    """The first steady tick of one run: none, a fixed time (the first tick at or after
    it), or the automatic rule of :mod:`analysis.steady`."""
    if warmup == "none" or warmup == 0:
        return 0
    if warmup != "auto":
        seconds = float(warmup)
        if seconds < 0:
            raise ValueError("a warm-up window cannot be negative")
        return int(np.ceil(seconds / sc.tick_s - 1e-9))
    code = sc.names.index.get(primary)
    if code is None:
        return 0
    return detect_from_ticks(
        sc.all_per_tick, sc.ok_sum[code], sc.ok_count[code], sc.tick_s, sc.last_s
    )


def _per_run(
    samples: dict[tuple[str, str], np.ndarray],
    scans: list[RunScan],
    cut_ticks: dict[str, int],
    seconds: pd.Series,
    quantiles: Sequence[float],
) -> pd.DataFrame:
    """Per (run, name): ok count, quantiles and throughput, for run-to-run spread."""
    out = []
    for sc in scans:
        start = cut_ticks[sc.label]
        for code, name in enumerate(sc.names.values):
            v = samples.get((sc.label, name))
            if v is None or v.size == 0:
                continue
            row: dict[str, Any] = {"run": sc.label, "name": name, "ok": v.size}
            row.update(
                zip([qlabel(q) for q in quantiles], quantiles_sorted(v, quantiles), strict=True)
            )
            row["requests"] = int(sc.requests[code, start:].sum())
            row["throughput_rps"] = row["requests"] / float(seconds[sc.label])
            out.append(row)
    if not out:
        cols = ["ok", *map(qlabel, quantiles), "requests", "throughput_rps"]
        return pd.DataFrame(columns=["run", "name", *cols]).set_index(["run", "name"])
    return pd.DataFrame(out).set_index(["run", "name"])


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


def failures_over_time(
    events: pd.DataFrame, *, window_s: float | None = None, end_s: float | None = None
) -> pd.DataFrame:
    """Failures per time window (index ``t_s``) and kind (columns).

    Agent runs are counted by the counting rule (a late frame in the window of its
    run's start); failed logins, connects and dropped iterations, which are not runs, by row.
    Summed over the windows, each column is the run summary's figure. ``end_s``: the
    last second shown (default: the last row's).
    """
    end = float(events["elapsed_s"].max()) if end_s is None else end_s
    window_s = window_s or nice_window(end)
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
    all_t = np.arange(0, end + window_s, window_s)
    table.index.name = "t_s"
    return table.reindex(all_t[all_t <= end], fill_value=0)
