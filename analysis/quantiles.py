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
    from scipy import stats  # 1.5 s to import: the gate's and report's input checks need none

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


_SLICE = 1 << 22  # rows binned at a time: bounded temporaries on runs of any size


def block_histograms(
    ms: np.ndarray, ticks: np.ndarray, first_tick: int, end_tick: int
) -> np.ndarray:
    """Counts of ``ms`` per time block and latency bin, shape ``(BLOCKS, N_BINS)``.

    Ticks ``[first_tick, end_tick)`` are cut into :data:`BLOCKS` blocks of equal time;
    ``ms`` must hold no NaN (latencies under 1 us count as 1 us).
    """
    span = max(1, end_tick - first_tick)
    counts = np.zeros(BLOCKS * N_BINS, np.int64)
    for lo in range(0, ms.size, _SLICE):
        t = ticks[lo : lo + _SLICE].astype(np.int64)
        key = (np.clip((t - first_tick) * BLOCKS // span, 0, BLOCKS - 1) * N_BINS).astype(np.int32)
        del t
        pos = np.floor((np.log(np.maximum(ms[lo : lo + _SLICE], 1e-3)) - _LOW) / _STEP)
        key += np.clip(pos, 0, N_BINS - 1).astype(np.int32)
        del pos
        counts += np.bincount(key, minlength=BLOCKS * N_BINS)
    return counts.reshape(BLOCKS, N_BINS).astype(np.int32)


def _hist_quantiles(cum: np.ndarray, centre: np.ndarray, q: float) -> np.ndarray:
    """numpy's linear q-quantile of each row of cumulative bin counts ``cum`` (rows with
    values), each value taken as its bin's centre: the two order statistics around
    rank ``q * (n - 1)`` found by bin, then interpolated."""
    total = cum[:, -1:]
    h = q * (total - 1)
    lo = np.floor(h)
    at = [
        np.minimum((cum <= k).sum(axis=1), centre.size - 1)
        for k in (lo, np.minimum(lo + 1, total - 1))
    ]
    v_lo, v_hi = centre[at[0]], centre[at[1]]
    return np.asarray(v_lo + (h[:, 0] - lo[:, 0]) * (v_hi - v_lo))


def block_bootstrap(
    runs: Sequence[np.ndarray], qs: Sequence[float], reps: int, rng: np.random.Generator
) -> tuple[np.ndarray, int] | None:
    """Log q-quantiles of a side's pooled rows, ``reps`` times, each from its runs' time
    blocks drawn with replacement within each run (a block bootstrap with
    non-overlapping blocks; only blocks with rows are drawn), shape ``(reps, len(qs))``,
    and the degrees of freedom (blocks with rows - 1, summed over runs). None when no
    run has two blocks with rows.

    ``runs`` are :func:`block_histograms` of each run of the side.
    """
    kept = [h[h.sum(axis=1) > 0] for h in runs]
    kept = [h for h in kept if h.shape[0] >= 2]
    if not kept:
        return None
    hist = np.concatenate(kept)
    used = hist.any(axis=0)
    hist, centre = hist[:, used].astype(np.float64), np.log(BIN_MS[used])
    draws = np.concatenate(
        [rng.multinomial(h.shape[0], np.full(h.shape[0], 1 / h.shape[0]), size=reps) for h in kept],
        axis=1,
    )
    cum = np.cumsum(draws @ hist, axis=1)
    out = np.stack([_hist_quantiles(cum, centre, q) for q in qs], axis=1)
    return out, sum(h.shape[0] - 1 for h in kept)


MIN_BLOCK_ROWS = 10  # a block with fewer rows has no percentile of its own


def block_quantiles(hist: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Each q-quantile of each time block with at least :data:`MIN_BLOCK_ROWS` rows, in
    ms (numpy's linear quantile of the bins' centres, so within half a 0.5% bin), shape
    ``(blocks, len(qs))``; ``hist`` from :func:`block_histograms`."""
    hist = hist[hist.sum(axis=1) >= MIN_BLOCK_ROWS]
    if hist.shape[0] == 0:
        return np.empty((0, len(qs)))
    cum = np.cumsum(hist, axis=1)
    return np.stack([_hist_quantiles(cum, BIN_MS, q) for q in qs], axis=1)
