"""Two-sample tests and bootstrap draws on *sorted* samples (the summaries keep them sorted)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from analysis.quantiles import quantiles_sorted


def mann_whitney_p(b: np.ndarray, c: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value of two *sorted* samples.

    Large samples use the normal approximation with tie and continuity
    corrections (as scipy's asymptotic method), computed from the sorted
    arrays with binary searches instead of ranking the pooled data.
    """
    nb, nc = b.size, c.size
    if nb == 0 or nc == 0:
        return np.nan
    if min(nb, nc) < 50:
        return float(stats.mannwhitneyu(c, b, alternative="two-sided").pvalue)
    left = np.searchsorted(b, c, side="left")
    right = np.searchsorted(b, c, side="right")
    u = float(left.sum() + 0.5 * (right - left).sum())
    merged = np.sort(np.concatenate([b, c]), kind="stable")
    n = merged.size
    edges = np.flatnonzero(np.diff(merged) != 0)
    runs = np.diff(np.concatenate([[-1], edges, [n - 1]])).astype(float)
    tie = float((runs**3 - runs).sum())
    mu = nb * nc / 2.0
    var = nb * nc / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - mu) - 0.5) / np.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))


def ks_p(b: np.ndarray, c: np.ndarray) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov p-value (exact when scipy can, else the
    asymptotic one: scipy falls back by itself, and says so in a warning we expect)."""
    if b.size == 0 or c.size == 0:
        return np.nan
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
        return float(stats.ks_2samp(b, c).pvalue)


def rank_test_sample(x: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``x`` (sorted) when it has at most ``size`` values, else ``size`` of them drawn
    without replacement (seeded ``rng``), still sorted. The p-values of the rank tests
    then describe a sample of ``size``: at 500,000 a side they still resolve a shift of
    under 1% of the spread, far below any threshold that matters."""
    if x.size <= size:
        return x
    return x[np.sort(rng.choice(x.size, size=size, replace=False))]


def bootstrap_quantile(x: np.ndarray, q: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Exact bootstrap draws of the q-quantile's order statistic of sorted ``x``."""
    n = x.size
    k = int(np.clip(np.round(q * (n - 1)) + 1, 1, n))
    u = rng.beta(k, n - k + 1, size=draws)
    idx = np.clip(np.ceil(n * u).astype(np.int64) - 1, 0, n - 1)
    return x[idx]


def iqr_of(x: np.ndarray) -> float:
    q1, q3 = quantiles_sorted(x, [0.25, 0.75])
    return float(q3 - q1)
