"""The metrics an SLO objective may judge, and the criterion grammar.

A criterion is ``METRIC OP NUMBER [UNIT]``: OP is one of ``< <= > >= ==``;
UNIT is ``%`` for rates, ``ms`` or ``s`` for latencies, none for counts. A
number with an explicit sign and ``%`` (``+10%``) is relative to the baseline
(latency percentiles only, ``<= +N%``). Thresholds are normalised: rates to
fractions, latencies to milliseconds.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import readers as rd
from .readers import Reader

RATE, LATENCY, COUNT, RPS = "rate", "latency", "count", "rps"
QUANTILE_METRICS = ("p50", "p90", "p95", "p99", "p99.9")


@dataclass(frozen=True)
class MetricSpec:
    """What a metric measures: its kind (units), default request, and what it accepts."""

    kind: str
    read: Reader  # how the value is read from a summary (readers.py)
    default_request: str | None = None
    takes_request: bool = True
    relative: bool = False  # may be judged against a baseline
    help: str = ""


METRICS: dict[str, MetricSpec] = {
    "completion_rate": MetricSpec(
        RATE, rd.success_rate, "golden_path", help="ok / requests of a request name"
    ),
    "ws_connect_success_rate": MetricSpec(RATE, rd.success_rate, "ws_connect", takes_request=False),
    "failure_rate": MetricSpec(
        RATE, rd.failure_rate, None, help="failed / requests, all names or one"
    ),
    "isolation_violations": MetricSpec(COUNT, rd.isolation_violations, takes_request=False),
    "close_1011": MetricSpec(COUNT, rd.closes_1011, takes_request=False),
    **{
        q: MetricSpec(LATENCY, rd.latency_column, "golden_path", relative=True)
        for q in QUANTILE_METRICS
    },
    "mean": MetricSpec(LATENCY, rd.latency_column, "golden_path"),
    "max": MetricSpec(LATENCY, rd.latency_column, "golden_path"),
    "throughput_rps": MetricSpec(RPS, rd.latency_column, "golden_path"),
    **{
        f"factory_creation_{s}_ms": MetricSpec(LATENCY, rd.factory_creation, takes_request=False)
        for s in ("p50", "p90", "p99", "max")
    },
    "active_engines_after": MetricSpec(COUNT, rd.active_engines_after, takes_request=False),
}

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
_CRITERION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)?\s*(?P<op>[<>=!]+)\s*"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>%|ms|s)?\s*$"
)


@dataclass(frozen=True)
class Criterion:
    """``METRIC OP THRESHOLD``; a relative threshold is a fraction of the baseline (0.10)."""

    metric: str
    op: str
    threshold: float
    relative: bool
    text: str

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    @property
    def threshold_text(self) -> str:
        return self.text.split(self.op, 1)[1].strip()


def parse_criterion(text: str, *, default_metric: str | None = None) -> Criterion:
    """Parse ``p95 < 200 ms`` (or ``< 200 ms`` with ``default_metric``); ValueError on bad text."""
    if not isinstance(text, str):
        raise ValueError(f"a criterion is a string like 'p95 < 200 ms', not {text!r}")
    m = _CRITERION.match(text)
    if not m:
        raise ValueError(
            f"cannot read criterion {text!r}: expected METRIC OP NUMBER [UNIT], "
            "e.g. 'p95 < 200 ms', 'failure_rate < 0.1%', 'p95 <= +10%'"
        )
    op = m.group("op")
    if op not in OPS:
        raise ValueError(f"unknown operator {op!r} in {text!r} (use <, <=, >, >=, ==)")
    metric = m.group("metric") or default_metric
    if not metric:
        raise ValueError(f"criterion {text!r} names no metric")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    num, unit = m.group("num"), m.group("unit")
    value = float(num)
    relative = num[0] in "+-" and unit == "%"
    spec = METRICS[metric]
    if relative:
        if not spec.relative:
            raise ValueError(
                f"{metric} cannot be relative ({text!r}): relative criteria apply to "
                f"latency percentiles ({', '.join(QUANTILE_METRICS)})"
            )
        if op not in ("<", "<="):
            raise ValueError(f"a relative latency criterion is '<= +N%' (got {text!r})")
        return Criterion(metric, op, value / 100.0, True, text.strip())
    if spec.kind == RATE:
        if unit not in (None, "%"):
            raise ValueError(f"{metric} is a rate: use % or a fraction (got {text!r})")
        value = value / 100.0 if unit == "%" else value
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{metric} is a rate between 0% and 100% (got {text!r})")
    elif spec.kind == LATENCY:
        if unit == "%":
            raise ValueError(
                f"{metric} is a latency: use ms or s, or '+N%' against the baseline (got {text!r})"
            )
        value = value * 1000.0 if unit == "s" else value
    elif unit is not None:
        raise ValueError(f"{metric} is a {spec.kind} and takes no unit (got {text!r})")
    if not math.isfinite(value):
        raise ValueError(f"threshold in {text!r} is not a finite number")
    return Criterion(metric, op, value, False, text.strip())
