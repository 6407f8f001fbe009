"""The SLO file (TOML): objectives a deployment must meet, parsed and checked.

::

    [gate]
    min_score = 0.8          # weighted score below this fails the gate
    warmup = "auto"          # auto | none | seconds, cut from latency and throughput
    confidence = 0.95

    [[objective]]
    name = "golden-path-p95-vs-blue"
    request = "golden_path"
    criterion = "p95 <= +10%"    # relative: against the baseline (explicit sign + %)
    warning = "<= +25%"          # looser criterion: met -> warning instead of fail
    weight = 2
    critical = true              # failing it fails the gate whatever the score
    missing = "skip"             # no data: fail | pass | inconclusive | skip

A criterion is ``METRIC OP NUMBER [UNIT]``: OP is one of ``< <= > >= ==``;
UNIT is ``%`` for rates, ``ms`` or ``s`` for latencies, none for counts. A
number with an explicit sign and ``%`` (``+10%``) is relative to the baseline.
Every error a user can make is an ``SloError`` carrying the file and line.
"""

from __future__ import annotations

import math
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.steady import Warmup, parse_warmup

from . import readers as rd
from .readers import Reader

DEFAULT_SLO = "default_slo.toml"

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
MISSING_POLICIES = ("fail", "pass", "inconclusive", "skip")
_OBJECTIVE_KEYS = {
    "name",
    "description",
    "metric",
    "request",
    "criterion",
    "warning",
    "weight",
    "critical",
    "missing",
}
_GATE_KEYS = {"min_score", "warmup", "confidence", "description"}

_CRITERION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)?\s*(?P<op>[<>=!]+)\s*"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>%|ms|s)?\s*$"
)


class SloError(Exception):
    """An SLO file that cannot be used; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


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


@dataclass(frozen=True)
class Objective:
    """One objective of the SLO file, checked and normalised."""

    name: str
    metric: str
    request: str | None
    criterion: Criterion
    warning: Criterion | None = None
    weight: float = 1.0
    critical: bool = False
    missing: str = "fail"
    description: str = ""
    line: int = 0

    @property
    def relative(self) -> bool:
        return self.criterion.relative

    @property
    def kind(self) -> str:
        spec = METRICS.get(self.metric)  # the gate's own checks (smoke) are not metrics
        return spec.kind if spec else "check"


@dataclass(frozen=True)
class Slo:
    """A parsed SLO file: gate settings and objectives in file order."""

    objectives: tuple[Objective, ...]
    source: str
    min_score: float = 0.8
    warmup: Warmup = "auto"
    confidence: float = 0.95
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_relative(self) -> bool:
        return any(o.relative for o in self.objectives)


# --- line numbers ----------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\s]+)\s*\]\]?")


class _Lines:
    """Where each table and key sits in the text, for error messages (tomllib gives none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []  # (1-based line, table name)
        for i, line in enumerate(self.lines, 1):
            m = _HEADER.match(line)
            if m:
                self.headers.append((i, m.group(1)))

    def table(self, name: str, index: int = 0) -> int:
        found = [ln for ln, n in self.headers if n == name]
        return found[index] if index < len(found) else 0

    def key(self, table: str, index: int, key: str) -> int:
        """Line of ``key = ...`` inside the index-th ``table`` (its header line if absent)."""
        start = self.table(table, index)
        following = [ln for ln, _ in self.headers if ln > start]
        end = following[0] if following else len(self.lines) + 1
        if not start:
            start, end = 0, (self.headers[0][0] if self.headers else len(self.lines) + 1)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for ln in range(start + 1, end):
            if pattern.match(self.lines[ln - 1]):
                return ln
        return start


# --- parsing ---------------------------------------------------------------------------


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


def parse_slo(text: str, source: str = "<slo>") -> Slo:
    """Parse and check an SLO file's text; raise ``SloError`` with the line at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or _lineno_from_message(str(exc))
        reason = getattr(exc, "msg", None) or str(exc).split(" (at ")[0]
        raise SloError(source, line, f"invalid TOML: {reason}") from None
    where = _Lines(text)

    def fail(line: int, message: str) -> SloError:
        return SloError(source, line, message)

    for key in data:
        if key not in ("gate", "objective"):
            line = where.table(key) or where.key("", 0, key)
            raise fail(line, f"unknown top-level key {key!r} (expected [gate] and [[objective]])")
    gate = data.get("gate", {})
    if not isinstance(gate, dict):
        raise fail(where.key("", 0, "gate"), "'gate' must be a table: [gate]")
    for key in gate:
        if key not in _GATE_KEYS:
            raise fail(
                where.key("gate", 0, key),
                f"unknown key {key!r} in [gate] (known: {', '.join(sorted(_GATE_KEYS))})",
            )
    min_score = gate.get("min_score", 0.8)
    if isinstance(min_score, bool) or not isinstance(min_score, int | float):
        raise fail(where.key("gate", 0, "min_score"), "min_score must be a number in [0, 1]")
    if not 0.0 <= float(min_score) <= 1.0:
        raise fail(where.key("gate", 0, "min_score"), "min_score must be a number in [0, 1]")
    confidence = gate.get("confidence", 0.95)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0.5 <= confidence < 1
    ):
        raise fail(where.key("gate", 0, "confidence"), "confidence must be in [0.5, 1)")
    try:
        warmup = parse_warmup(str(gate.get("warmup", "auto")))
    except ValueError:
        raise fail(
            where.key("gate", 0, "warmup"), "warmup must be 'auto', 'none' or seconds"
        ) from None

    raw_objectives = data.get("objective", [])
    if not isinstance(raw_objectives, list) or not raw_objectives:
        raise fail(where.table("objective"), "no objectives: add at least one [[objective]] table")
    objectives: list[Objective] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_objectives):
        header = where.table("objective", i)

        def key_line(key: str, i: int = i) -> int:
            return where.key("objective", i, key)

        for key in raw:
            if key not in _OBJECTIVE_KEYS:
                raise fail(
                    key_line(key),
                    f"unknown key {key!r} in [[objective]] "
                    f"(known: {', '.join(sorted(_OBJECTIVE_KEYS))})",
                )
        if "criterion" not in raw:
            raise fail(header, "[[objective]] needs a criterion, e.g. criterion = 'p95 < 200 ms'")
        metric_key = raw.get("metric")
        if metric_key is not None and metric_key not in METRICS:
            raise fail(
                key_line("metric"),
                f"unknown metric {metric_key!r} (known: {', '.join(METRICS)})",
            )
        try:
            crit = parse_criterion(raw["criterion"], default_metric=metric_key)
        except ValueError as exc:
            raise fail(key_line("criterion"), str(exc)) from None
        if metric_key is not None and crit.metric != metric_key:
            raise fail(
                key_line("criterion"),
                f"criterion names {crit.metric!r} but metric = {metric_key!r}",
            )
        warn = None
        if "warning" in raw:
            try:
                warn = parse_criterion(raw["warning"], default_metric=crit.metric)
            except ValueError as exc:
                raise fail(key_line("warning"), f"warning: {exc}") from None
            if warn.metric != crit.metric or warn.relative != crit.relative:
                raise fail(
                    key_line("warning"),
                    "warning must use the criterion's metric, and be relative only if it is",
                )
        spec = METRICS[crit.metric]
        request = raw.get("request")
        if request is not None:
            if not isinstance(request, str) or not request:
                raise fail(key_line("request"), "request must be a request name, e.g. 'login'")
            if not spec.takes_request:
                raise fail(key_line("request"), f"{crit.metric} takes no request")
        else:
            request = spec.default_request
        name = raw.get("name") or f"{request + ' ' if request else ''}{crit.text}"
        if not isinstance(name, str):
            raise fail(key_line("name"), "name must be a string")
        if name in names:
            raise fail(key_line("name"), f"duplicate objective name {name!r}")
        names.add(name)
        weight = raw.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise fail(key_line("weight"), f"weight must be a positive number (got {weight!r})")
        critical = raw.get("critical", False)
        if not isinstance(critical, bool):
            raise fail(key_line("critical"), f"critical must be true or false (got {critical!r})")
        missing = raw.get("missing", "fail")
        if missing not in MISSING_POLICIES:
            raise fail(
                key_line("missing"),
                f"missing must be one of {', '.join(MISSING_POLICIES)} (got {missing!r})",
            )
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise fail(key_line("description"), "description must be a string")
        objectives.append(
            Objective(
                name=name,
                metric=crit.metric,
                request=request,
                criterion=crit,
                warning=warn,
                weight=float(weight),
                critical=critical,
                missing=missing,
                description=description,
                line=header,
            )
        )
    return Slo(
        objectives=tuple(objectives),
        source=source,
        min_score=float(min_score),
        warmup=warmup,
        confidence=float(confidence),
        description=str(gate.get("description", "")),
        raw=data,
    )


def _lineno_from_message(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 0


def load_slo(path: str | Path | None = None) -> Slo:
    """Read an SLO file, or the shipped default when ``path`` is None."""
    if path is None:
        text = resources.files("analysis.gate").joinpath(DEFAULT_SLO).read_text(encoding="utf-8")
        return parse_slo(text, f"(default) {DEFAULT_SLO}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SloError(str(p), 0, "no such SLO file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SloError(str(p), 0, f"cannot read the SLO file ({type(exc).__name__})") from None
    return parse_slo(text, str(p))
