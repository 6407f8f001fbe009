"""What a summary holds: one run's (or a group's) measurements after the warm-up cut.

:func:`analysis.summarize.summarize` builds it from streamed files; this module
only holds and presents what was measured (counts by the one rule, sorted
samples, per-tick counts), and reads rows only when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import RunGroup, concat_events
from analysis.quantiles import qlabel
from analysis.scan import RunScan, ticks_in, whole_ticks
from analysis.steady import WarmupCut, apply_warmup
from analysis.timeline import failures_over_time, nice_window, over_time
from resultsformat import RunCounts

CLOSE_1011 = 1011


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
    # (run, name) -> latency histogram of each time block of the steady state, for the
    # block bootstrap (quantiles.block_histograms)
    per_block: dict[tuple[str, str], np.ndarray] = field(repr=False)
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
    def ticks_s(self) -> list[float]:
        """The tick of each run's scan (10 ms unless a run is long)."""
        return [sc.tick_s for sc in self.scans]

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
        return stack_runs([(sc.label, sc.failure_events) for sc in self.scans])

    @property
    def plot_events(self) -> pd.DataFrame:
        """The plots' sample of successful rows (every one, below ``scan.PLOT_ROWS`` a run)."""
        return stack_runs([(sc.label, sc.plot_events) for sc in self.scans])

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
            if steady:  # whole windows only, up to the run's last request
                n_win = int((sc.last_request_s - start * sc.tick_s) // window_s)
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
        window_s = window_s or whole_ticks(nice_window(self.last_s), self.ticks_s)
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


def stack_runs(parts: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    return concat_events([f for _, f in parts], [label for label, _ in parts])
