"""The words of a comparison (``Verdict``), what counts as a practical change
(``Thresholds``), and the headline rule: one place for compare, report and gate."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from resultsformat.counting import CLOSE_1011


class Verdict(StrEnum):
    """The words of a comparison, the same in report.md, report.html and verdict.json."""

    WORSE = "worse"
    BETTER = "better"
    NEGLIGIBLE = "negligible"
    SAME = "no detectable change"
    INCONCLUSIVE = "inconclusive"


WORSE, BETTER, NEGLIGIBLE, SAME, INCONCLUSIVE = (
    Verdict.WORSE,
    Verdict.BETTER,
    Verdict.NEGLIGIBLE,
    Verdict.SAME,
    Verdict.INCONCLUSIVE,
)
VERDICTS = tuple(Verdict)
COMPARE_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)
MAX_MORE_RUNS = 100


@dataclass(frozen=True)
class Thresholds:
    """What counts as a practical change, and how sure a verdict must be."""

    min_rel_change: float = 0.05  # |relative change| for latency and throughput
    min_effect_iqr: float = 0.1  # |change| in units of the (averaged) IQR
    min_rate_change: float = 0.001  # failure rates: 0.1 percentage point, absolute
    # Below a millisecond, scheduler jitter on a loaded machine is as large as the change.
    min_abs_change_ms: float = 1.0
    alpha: float = 0.05  # family-wise, Bonferroni over the metrics tested
    confidence: float = 0.95
    min_samples: int = 20
    bootstrap: int = 2000
    seed: int = 0
    # Mann-Whitney U and Kolmogorov-Smirnov run on a seeded random subsample of this many
    # successful rows a side when a side has more (rank_test_sample); estimates use every row.
    test_rows: int = 500_000
    # A percentile's change must hold across each run's time blocks (a block bootstrap of
    # its standard error, and its median over the blocks), so a few slow
    # seconds in one run are not a regression. False: rows alone (the rule before).
    time_blocks: bool = True


def describe_change(row: pd.Series) -> str:
    """``golden_path p50 +12.3% [+10.1%, +14.6%]`` or ``isolation violations 14 -> 0``."""
    if row["unit"] == "rate":
        if row["metric"] in ("isolation violations", f"{CLOSE_1011} closes"):
            return f"{row['metric']} {int(row['count_baseline'])} -> {int(row['count_candidate'])}"
        label = row["metric"] if row["name"] == "all" else f"{row['name']} {row['metric']}"
        return f"{label} {row['baseline']:.2%} -> {row['candidate']:.2%}"
    label = f"{row['name']} {row['metric']}" if row["name"] != "all" else str(row["metric"])
    if not np.isfinite(row["change"]):
        return label
    return f"{label} {row['change']:+.1%} [{row['change_lo']:+.1%}, {row['change_hi']:+.1%}]"


_PRIORITY = {"defects": 0, "latency": 2, "throughput": 3, "failures": 4, "failure kinds": 5}


def by_priority(m: pd.DataFrame, primary: str) -> pd.DataFrame:
    """Rows in headline order: defects, the primary request, other latency, the rest."""
    rank = m["section"].map(_PRIORITY).fillna(9) - ((m["name"] == primary) * 1.5)
    return m.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")


def headline_verdict(m: pd.DataFrame, primary: str) -> Verdict:
    """Worse if any metric is worse; else better if any is better; else the primary
    request's p50 decides (inconclusive, negligible or no detectable change)."""
    if (m["verdict"] == WORSE).any():
        return WORSE
    if (m["verdict"] == BETTER).any():
        return BETTER
    prim = m[(m["name"] == primary) & (m["metric"] == "p50")]
    return Verdict(prim["verdict"].iloc[0]) if not prim.empty else INCONCLUSIVE
