"""Exact quantiles of sorted samples and their distribution-free confidence intervals.

Percentiles use numpy's default linear interpolation between order statistics.
The interval of the q-quantile of n values runs from the l-th to the u-th
smallest value, with l and u the alpha/2 and 1-alpha/2 quantiles of
Binomial(n, q) (+1 for u): it covers the true quantile with probability >= the
confidence level for any continuous distribution. When n is too small for a
bound to exist (p99.9 of 500 values) that bound is NaN ("open").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)


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


# A run's time blocks: its steady state cut into BLOCKS blocks of equal time, each kept as
# a histogram of latency on one fixed log grid (bins 0.5% wide, 1 us to 10^7 ms) so the
# blocks of any runs add up. ``block_bootstrap`` resamples blocks, not rows: a few slow
# seconds in one run then widen the interval of its percentiles, as they should.
BLOCKS = 10
_STEP = float(np.log1p(0.005))
_LOW = float(np.log(1e-3))
N_BINS = int(np.ceil((np.log(1e7) - _LOW) / _STEP))
BIN_MS = np.exp(_LOW + _STEP * (np.arange(N_BINS) + 0.5))  # each bin's (geometric) centre


def block_histograms(
    ms: np.ndarray, ticks: np.ndarray, first_tick: int, end_tick: int
) -> np.ndarray:
    """Counts of ``ms`` per time block and latency bin, shape ``(BLOCKS, N_BINS)``.

    Ticks ``[first_tick, end_tick)`` are cut into :data:`BLOCKS` blocks of equal time.
    """
    span = max(1, end_tick - first_tick)
    block = np.clip((ticks.astype(np.int64) - first_tick) * BLOCKS // span, 0, BLOCKS - 1)
    key = block.astype(np.int32) * N_BINS
    del block
    pos = np.floor((np.log(np.maximum(ms, 1e-3)) - _LOW) / _STEP)
    key += np.clip(pos, 0, N_BINS - 1).astype(np.int32)
    del pos
    counts = np.bincount(key, minlength=BLOCKS * N_BINS)
    return counts.reshape(BLOCKS, N_BINS).astype(np.int32)


def block_bootstrap(
    runs: Sequence[np.ndarray], qs: Sequence[float], reps: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Log q-quantiles of a side's pooled rows, ``reps`` times, each from its runs' time
    blocks drawn with replacement within each run (a moving-block bootstrap with
    non-overlapping blocks); shape ``(reps, len(qs))``, and the non-empty blocks.

    ``runs`` are :func:`block_histograms` of each run of the side.
    """
    hist = np.concatenate(runs)
    used = hist.any(axis=0)
    hist, centre = hist[:, used].astype(np.float64), np.log(BIN_MS[used])
    draws = np.concatenate(
        [rng.multinomial(h.shape[0], np.full(h.shape[0], 1 / h.shape[0]), size=reps) for h in runs],
        axis=1,
    )
    cum = np.cumsum(draws @ hist, axis=1)
    total = cum[:, -1:]
    out = np.empty((reps, len(qs)))
    for j, q in enumerate(qs):
        rank = q * (total - 1) + 1  # the order statistic at q, 1-based
        idx = np.minimum((cum < rank).sum(axis=1), centre.size - 1)
        out[:, j] = centre[idx]
    return out, int((hist.sum(axis=1) > 0).sum())


MIN_BLOCK_ROWS = 10  # a block with fewer rows has no percentile of its own


def block_quantiles(hist: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Each q-quantile of each time block with at least :data:`MIN_BLOCK_ROWS` rows, in
    ms (to the 0.5% bin), shape ``(blocks, len(qs))``; ``hist`` from :func:`block_histograms`."""
    hist = hist[hist.sum(axis=1) >= MIN_BLOCK_ROWS]
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    out = np.empty((hist.shape[0], len(qs)))
    for j, q in enumerate(qs):
        idx = np.minimum((cum < q * (total - 1) + 1).sum(axis=1), N_BINS - 1)
        out[:, j] = BIN_MS[idx]
    return out
