"""Rows per time window: requests, throughput, percentiles and failures over time.

These read a frame of rows (``elapsed_s``, ``name``, ``ok``, ``ms``, ``failure_kind``,
...): a run's events in a notebook, or a summary's failed rows and plot sample
(``Summary.over_time`` and ``Summary.failures_over_time`` use them with the exact
per-tick counts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.quantiles import grouped_quantiles, qlabel
from resultsformat import LATE_FRAME, NOT_REQUEST_KINDS, RESPONSE, count_runs

_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def nice_window(duration_s: float, target: int = 60) -> float:
    """A round window length giving about ``target`` windows over ``duration_s``."""
    raw = max(duration_s / target, 1e-9)
    return float(next((w for w in _NICE if w >= raw), _NICE[-1]))


def _windows(events: pd.DataFrame, window_s: float) -> np.ndarray:
    return np.asarray((events["elapsed_s"].to_numpy() // window_s) * window_s)


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
