"""Warm-up removal: a fixed window, or an automatic steady-state detector.

The automatic rule is MSER-5 (White, 1997; the "marginal standard error
rule" used to truncate simulation output). The run is cut into time windows
(about 500 of them over the run, at least 50 ms each); each window gives two series,
the mean latency of the successful rows of the primary request (``golden_path``
when present, else the most frequent name) and the request count (throughput).
Each series is averaged in batches of 5 windows; MSER picks the truncation
``d`` (in batches, at most half the run) that minimises
``var(batches[d:]) / len(batches[d:])``, i.e. the standard error of the mean of
what is kept. A cut is kept only when the batches it removes differ from the
rest by more than 3 standard errors (on a flat series MSER's minimum wanders
with the noise; this guard stops it cutting a steady run). The cut is the
later of the two series' cuts: throughput catches a user ramp, latency catches
cold caches and lazy initialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from resultsformat.duration import parse_duration

Warmup = Literal["auto", "none"] | float
RULE_AUTO = "MSER-5 on per-window mean latency and throughput (later cut wins)"
BATCH = 5
Z_GUARD = 3.0


@dataclass(frozen=True)
class WarmupCut:
    """Where one run's steady state starts, in seconds since its first event."""

    run: str
    cut_s: float
    rule: str  # "auto (MSER-5)", "fixed", "none"


def primary_of(rows_by_name: Mapping[str, int]) -> str:
    """The request the story is about: ``golden_path`` if present, else the most frequent."""
    present = {name: n for name, n in rows_by_name.items() if n > 0}
    if "golden_path" in present:
        return "golden_path"
    return max(present, key=lambda name: present[name]) if present else ""


def primary_name(events: pd.DataFrame) -> str:
    """``primary_of`` the rows of ``events``."""
    counts = events["name"].value_counts(sort=False)
    return primary_of({str(k): int(v) for k, v in counts.items()})


def mser_truncation(y: np.ndarray, batch: int = BATCH) -> int:
    """MSER-``batch`` truncation point of a series, as an index into ``y``."""
    y = np.asarray(y, dtype=float)
    nb = y.size // batch
    if nb < 4:
        return 0
    z = y[: nb * batch].reshape(nb, batch).mean(axis=1)
    # Sums over the kept tail z[d:], for every d at once.
    s1 = np.cumsum(z[::-1])[::-1]
    s2 = np.cumsum((z * z)[::-1])[::-1]
    kept = np.arange(nb, 0, -1, dtype=float)
    var = s2 / kept - (s1 / kept) ** 2
    mser = var / kept
    d_max = nb // 2
    d = int(np.argmin(mser[: d_max + 1]))
    if d == 0:
        return 0
    # Guard against cutting noise: on a stationary series MSER's minimum wanders, so
    # keep the cut only if the removed part really differs from the rest (> Z_GUARD s.e.).
    head, tail = z[:d], z[d:]
    se = np.sqrt(tail.var(ddof=1) * (1 / head.size + 1 / tail.size))
    if se > 0 and abs(head.mean() - tail.mean()) < Z_GUARD * se:
        return 0
    return d * batch


def default_window_s(duration_s: float, target: int = 500, tick_s: float = 0.01) -> float:
    """Window length for the detector: about ``target`` windows, a whole number of ticks
    (:mod:`analysis.scan`), never under 50 ms."""
    ticks = max(1, int(np.ceil(duration_s / target / tick_s - 1e-9)))
    return max(0.05, round(ticks * tick_s, 9))


def cut_windows(counts: np.ndarray, latency: np.ndarray) -> int:
    """The later of the MSER cuts of the throughput and mean-latency series, in windows."""
    cut_w = mser_truncation(counts)
    lat = pd.Series(latency).ffill().bfill().to_numpy()
    if lat.size and np.isfinite(lat).all():
        cut_w = max(cut_w, mser_truncation(lat))
    return cut_w


def detect_steady_state(events: pd.DataFrame, *, name: str | None = None) -> float:
    """Seconds from a single run's first event to where its steady state begins."""
    t = events["elapsed_s"].to_numpy()
    duration = float(t.max()) if t.size else 0.0
    window = default_window_s(duration)
    n_win = int(duration // window) + 1
    if n_win < 4 * BATCH:
        return 0.0
    idx = np.minimum((t // window).astype(np.int64), n_win - 1)
    counts = np.bincount(idx, minlength=n_win).astype(float)
    name = name or primary_name(events)
    sel = (events["name"] == name).to_numpy() & events["ok"].to_numpy()
    lat_sum = np.bincount(idx[sel], weights=events["ms"].to_numpy()[sel], minlength=n_win)
    lat_n = np.bincount(idx[sel], minlength=n_win)
    # A run's last window is usually partial; leave it out of the series.
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = lat_sum[:-1] / lat_n[:-1]
    return float(cut_windows(counts[:-1], lat) * window)


def detect_from_ticks(
    per_tick: np.ndarray, ok_sum: np.ndarray, ok_count: np.ndarray, tick_s: float, last_s: float
) -> int:
    """``detect_steady_state`` from a scan's per-tick counts (rows of any name; the primary
    name's successful rows and their summed latency): the cut, in ticks."""
    window = default_window_s(last_s, tick_s=tick_s)
    per_window = max(1, round(window / tick_s))
    n_win = int(last_s // window) + 1
    if n_win < 4 * BATCH:
        return 0
    idx = np.minimum(np.arange(per_tick.size) // per_window, n_win - 1)
    counts = np.bincount(idx, weights=per_tick, minlength=n_win)
    lat_sum = np.bincount(idx, weights=ok_sum, minlength=n_win)
    lat_n = np.bincount(idx, weights=ok_count, minlength=n_win)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = lat_sum[:-1] / lat_n[:-1]
    return cut_windows(counts[:-1], lat) * per_window


def warmup_cuts(events: pd.DataFrame, warmup: Warmup = "auto") -> dict[str, WarmupCut]:
    """The warm-up cut of every run in ``events`` (a group's events, with ``run``)."""
    runs = [str(r) for r in events["run"].cat.categories]
    if warmup == "none" or warmup == 0:
        return {r: WarmupCut(r, 0.0, "none") for r in runs}
    if warmup != "auto":
        seconds = float(warmup)
        if seconds < 0:
            raise ValueError("a warm-up window cannot be negative")
        return {r: WarmupCut(r, seconds, "fixed") for r in runs}
    name = primary_name(events)
    cuts = {}
    codes = events["run"].cat.codes.to_numpy()
    for i, r in enumerate(runs):
        one = events if len(runs) == 1 else events[codes == i]
        cuts[r] = WarmupCut(r, detect_steady_state(one, name=name), "auto (MSER-5)")
    return cuts


def apply_warmup(events: pd.DataFrame, cuts: dict[str, WarmupCut]) -> pd.DataFrame:
    """Drop each run's rows before its cut."""
    per_run = np.array([cuts[str(r)].cut_s for r in events["run"].cat.categories])
    if not per_run.any():
        return events
    limit = per_run[events["run"].cat.codes.to_numpy()]
    return events[events["elapsed_s"].to_numpy() >= limit]


def parse_warmup(text: str) -> Warmup:
    """``auto``, ``none`` or a duration (``30s``, ``1m``, ``0``; the one syntax of
    :mod:`resultsformat.duration`), for the CLI, the SLO file and notebooks."""
    value = text.strip().lower()
    if value in ("auto", "none"):
        return value  # type: ignore[return-value]
    try:
        return parse_duration(value, allow_zero=True)
    except ValueError as exc:
        raise ValueError(f"warmup: {exc}; or auto, none") from None
