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
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import Run, RunGroup, as_group
from analysis.quantiles import (
    QUANTILES,
    block_histograms,
    grouped_quantiles,
    order_stat_ranks,
    qlabel,
    quantile_ci,
    quantiles_sorted,
    samples_for_bounded_ci,
)
from analysis.scan import RunScan, scan_run
from analysis.steady import Warmup, WarmupCut, detect_from_ticks, primary_of
from analysis.summary import CLOSE_1011, Summary, stack_runs
from analysis.timeline import failures_over_time, nice_window, over_time, request_mask
from resultsformat import RunCounts
from resultsformat.counting import requests_table

# Re-exported: notebooks and older code import these from here.
__all__ = [
    "CLOSE_1011",
    "QUANTILES",
    "Summary",
    "failures_over_time",
    "grouped_quantiles",
    "nice_window",
    "order_stat_ranks",
    "over_time",
    "qlabel",
    "quantile_ci",
    "quantiles_sorted",
    "request_mask",
    "samples_for_bounded_ci",
    "summarize",
]
ISOLATION = "isolation_violation"
DROPPED = "dropped"


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
    bounded by the successful rows of the runs summarized (12 bytes each while they are
    read, 8 once cut and sorted) and their failed rows, not by all their rows.
    """
    group = as_group(data)
    scans = []
    for i, run in enumerate(group.runs):
        tell = None
        if progress is not None:

            def tell(done: int, run: Run = run) -> None:  # noqa: E306
                progress(f"reading {run.label}: {done:,} of {run.rows:,} rows")

        scans.append(scan_run(run.label, list(run.files), rows=run.rows, seed=i, progress=tell))

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
    order: list[str] = []
    request_frames = []
    for sc in scans:
        runs.merge(sc.counts)
        per_run_counts[sc.label] = sc.counts
        table = requests_table(sc.by_name, sc.counts)
        request_frames.append(table.assign(run=sc.label).rename_axis("name").reset_index())
        order += [str(n) for n in sc.by_name.index if str(n) not in order]
        raw_total = (
            sc.by_name if raw_total is None else raw_total.add(sc.by_name, fill_value=0)
        ).reindex(order)  # names in order of first appearance, as one run has them
    assert raw_total is not None, "a group has at least one run"
    per_name = requests_table(raw_total, runs)
    per_run_requests = (
        pd.concat(request_frames, ignore_index=True).set_index(["run", "name"])[
            ["requests", "failed"]
        ]
    )  # fmt: skip

    # Steady state: samples per run and name, sorted; the group's are all runs' together.
    per_run_samples: dict[tuple[str, str], np.ndarray] = {}
    per_block: dict[tuple[str, str], np.ndarray] = {}
    n_steady: dict[str, int] = {}
    rows_steady = 0
    for sc in scans:
        start = cut_ticks[sc.label]
        rows_steady += int(sc.all_per_tick[start:].sum())
        for code, name in enumerate(sc.names.values):
            n_steady[name] = n_steady.get(name, 0) + int(sc.requests[code, start:].sum())
        for name in list(sc.ok_ms):
            ms, ticks = sc.ok_ms.pop(name), sc.ok_tick.pop(name)
            nan = np.isnan(ms)
            if start == 0 and not nan.any():
                x, t = ms, ticks
            else:
                keep = ~nan if start == 0 else (ticks >= start) & ~nan
                x, t = ms[keep], ticks[keep]
                del keep
            del ms, ticks, nan
            per_block[(sc.label, name)] = block_histograms(x, t, start, sc.n_ticks)
            del t
            per_run_samples[(sc.label, name)] = _sorted_samples(x)
    samples: dict[str, np.ndarray] = {}
    failure_events = stack_runs([(sc.label, sc.failure_events) for sc in scans])
    ok_fail = failure_events["ok"].to_numpy(dtype=bool)
    dropped = failure_events.loc[
        (failure_events["failure_kind"] == DROPPED).to_numpy(dtype=bool), "name"
    ].value_counts()

    # Per run first: pooling a group's samples frees each run's as it goes.
    per_run = _per_run(per_run_samples, scans, cut_ticks, seconds, quantiles)
    rows: list[dict[str, Any]] = []
    for name, counts in per_name.sort_values("rows", ascending=False, kind="stable").iterrows():
        x = _pool(per_run_samples, str(name), len(scans))
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
        per_block=per_block,
        run_seconds=seconds,
        per_run_counts=per_run_counts,
        per_run_requests=per_run_requests,
        scans=scans,
        cut_ticks=cut_ticks,
        group=group,
        paths=[str(r.path) for r in group.runs],
    )


RULE_NAME = "auto (MSER-5)"


def _pool(per_run: dict[tuple[str, str], np.ndarray], name: str, runs: int) -> np.ndarray:
    """The group's sorted samples of ``name``: the runs' arrays, taken out of ``per_run``
    (a single run's as it is), joined and sorted in place."""
    keys = [k for k in per_run if k[1] == name]
    if not keys:
        return np.empty(0)
    if runs == 1:
        return per_run[keys[0]]
    x = np.concatenate([per_run[k] for k in keys])
    for k in keys:
        del per_run[k]
    x.sort()
    return x


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
