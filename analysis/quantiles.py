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
