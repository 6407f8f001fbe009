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
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from analysis.steady import Warmup, parse_warmup

from .criteria import (
    COUNT,
    LATENCY,
    METRICS,
    OPS,
    QUANTILE_METRICS,
    RATE,
    RPS,
    Criterion,
    MetricSpec,
    parse_criterion,
)
from .errors import SloError
from .tomllines import TomlLines

__all__ = [
    "COUNT",
    "DEFAULT_SLO",
    "LATENCY",
    "METRICS",
    "MISSING_POLICIES",
    "OPS",
    "QUANTILE_METRICS",
    "RATE",
    "RPS",
    "Criterion",
    "MetricSpec",
    "Objective",
    "Slo",
    "SloError",
    "load_slo",
    "parse_criterion",
    "parse_slo",
]

DEFAULT_SLO = "default_slo.toml"
MissingPolicy = Literal["fail", "pass", "inconclusive", "skip"]
MISSING_POLICIES: tuple[str, ...] = get_args(MissingPolicy)


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


# --- the file's tables, checked by pydantic ------------------------------------------


def _refuse(message: str) -> PydanticCustomError:
    """A check of ours: its message is the one the user reads."""
    return PydanticCustomError("slo", "{message}", {"message": message})


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GateTable(_Table):
    """``[gate]``."""

    min_score: float = Field(default=0.8, ge=0.0, le=1.0)
    warmup: Any = "auto"
    confidence: float = Field(default=0.95, ge=0.5, lt=1.0)
    description: str = ""

    @field_validator("warmup", mode="plain")
    @classmethod
    def _warmup(cls, value: object) -> Warmup:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _refuse(_MESSAGES["warmup"])
        try:
            return parse_warmup(str(value))
        except ValueError:
            raise _refuse(_MESSAGES["warmup"]) from None


class ObjectiveTable(_Table):
    """One ``[[objective]]``; fields in the order they are checked (a later check reads
    an earlier field: the criterion its metric, the warning and request the criterion)."""

    name: str | None = None
    description: str = ""
    metric: Any = None
    criterion: Any
    warning: Any = None
    request: str | None = Field(default=None, min_length=1)
    weight: float = Field(default=1.0, gt=0)
    critical: bool = False
    missing: MissingPolicy = "fail"

    @field_validator("metric", mode="plain")
    @classmethod
    def _metric(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in METRICS:  # a list is not hashable
            raise _refuse(f"unknown metric {value!r} (known: {', '.join(METRICS)})")
        return value

    @field_validator("criterion", mode="plain")
    @classmethod
    def _criterion(cls, value: object, info: ValidationInfo) -> Criterion:
        metric = info.data.get("metric")
        try:
            crit = parse_criterion(value, default_metric=metric)  # type: ignore[arg-type]
        except ValueError as exc:
            raise _refuse(str(exc)) from None
        if metric is not None and crit.metric != metric:
            raise _refuse(f"criterion names {crit.metric!r} but metric = {metric!r}")
        return crit

    @field_validator("warning", mode="plain")
    @classmethod
    def _warning(cls, value: object, info: ValidationInfo) -> Criterion | None:
        crit = info.data.get("criterion")
        if value is None or crit is None:
            return None
        try:
            warn = parse_criterion(value, default_metric=crit.metric)  # type: ignore[arg-type]
        except ValueError as exc:
            raise _refuse(f"warning: {exc}") from None
        if warn.metric != crit.metric or warn.relative != crit.relative:
            raise _refuse("warning must use the criterion's metric, and be relative only if it is")
        return warn

    @field_validator("request")
    @classmethod
    def _request(cls, value: str | None, info: ValidationInfo) -> str | None:
        crit = info.data.get("criterion")
        if value is not None and crit is not None and not METRICS[crit.metric].takes_request:
            raise _refuse(f"{crit.metric} takes no request")
        return value


class SloFile(_Table):
    """The whole file: ``[gate]`` and at least one ``[[objective]]``."""

    gate: GateTable = Field(default_factory=GateTable)
    objective: list[ObjectiveTable] = Field(min_length=1)


# What the user reads when pydantic's own check of a field fails (its type, its range).
_MESSAGES = {
    "min_score": "min_score must be a number in [0, 1]",
    "confidence": "confidence must be in [0.5, 1)",
    "warmup": "warmup must be 'auto', 'none' or seconds",
    "description": "description must be a string",
    "name": "name must be a string",
    "request": "request must be a request name, e.g. 'login'",
    "weight": "weight must be a positive number (got {input!r})",
    "critical": "critical must be true or false (got {input!r})",
    "missing": f"missing must be one of {', '.join(MISSING_POLICIES)} (got {{input!r}})",
}
_NO_OBJECTIVES = "no objectives: add at least one [[objective]] table"


def _message(error: Any) -> str:
    """One pydantic error as the sentence the user reads."""
    loc, kind = error["loc"], error["type"]
    if kind == "slo":
        return str(error["ctx"]["message"])
    if kind == "extra_forbidden":
        key = loc[-1]
        if len(loc) == 1:
            return f"unknown top-level key {key!r} (expected [gate] and [[objective]])"
        table = GateTable if loc[0] == "gate" else ObjectiveTable
        where = "[gate]" if loc[0] == "gate" else "[[objective]]"
        known = ", ".join(sorted(table.model_fields))
        return f"unknown key {key!r} in {where} (known: {known})"
    if loc == ("gate",):
        return "'gate' must be a table: [gate]"
    if loc == ("objective",):
        return _NO_OBJECTIVES
    if loc[0] == "objective" and len(loc) == 2:
        return "each [[objective]] must be a table"
    if kind == "missing" and loc[-1] == "criterion":
        return "[[objective]] needs a criterion, e.g. criterion = 'p95 < 200 ms'"
    template = _MESSAGES.get(str(loc[-1]))
    if template is None:  # a field without a sentence of its own
        return f"{loc[-1]}: {error['msg']}"
    return template.format(input=error.get("input"))


def _causes(errors: list[Any]) -> list[Any]:
    """The errors without their consequences: a criterion read without the metric that
    failed beside it (``names no metric``) is the metric's error, not its own."""
    bad_metric = {e["loc"][:2] for e in errors if e["loc"][2:] == ("metric",)}
    return [
        e
        for e in errors
        if not (
            e["loc"][2:] == ("criterion",) and e["type"] == "slo" and e["loc"][:2] in bad_metric
        )
    ]


def _named_twice(data: dict[str, Any], where: TomlLines) -> list[tuple[int, str]]:
    """Explicit ``name`` values given twice: found with the tables' other errors, so the
    earliest line is raised (names made from criteria are checked once those are valid)."""
    raw = data.get("objective")
    names = (
        [o.get("name") if isinstance(o, dict) else None for o in raw]
        if isinstance(raw, list)
        else []
    )
    return [
        (where.key("objective", i, "name"), f"duplicate objective name {name!r}")
        for i, name in enumerate(names)
        if isinstance(name, str) and name and name in names[:i]  # "" gets a made-up name
    ]


def _line(where: TomlLines, loc: tuple[Any, ...]) -> int:
    """The line of the key or table ``loc`` names (pydantic's location of an error)."""
    if len(loc) == 1:
        return where.table(str(loc[0])) or where.key("", 0, str(loc[0]))
    if loc[0] == "gate":
        return where.key("gate", 0, str(loc[1]))
    if len(loc) == 2:  # an objective that is not a table: objective = [1]
        return where.table("objective", int(loc[1])) or where.key("", 0, "objective")
    return where.key("objective", int(loc[1]), str(loc[2]))


# --- parsing ---------------------------------------------------------------------------


def parse_slo(text: str, source: str = "<slo>") -> Slo:
    """Parse and check an SLO file's text; raise ``SloError`` naming the line at fault.

    pydantic checks every table; of what it finds, the error earliest in the file is
    raised. Objective names are checked for duplicates once the tables are valid.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or _lineno_from_message(str(exc))
        reason = getattr(exc, "msg", None) or str(exc).split(" (at ")[0]
        raise SloError(source, line, f"invalid TOML: {reason}") from None
    where = TomlLines(text)
    try:
        table = SloFile.model_validate(data)
    except ValidationError as exc:
        found = [(_line(where, e["loc"]), _message(e)) for e in _causes(exc.errors())]
        found += _named_twice(data, where)
        line, message = min(found, key=lambda f: f[0] or math.inf)  # no line known: last
        raise SloError(source, line, message) from None
    objectives: list[Objective] = []
    names: set[str] = set()
    for i, raw in enumerate(table.objective):
        crit: Criterion = raw.criterion
        request = raw.request or METRICS[crit.metric].default_request
        name = raw.name or f"{request + ' ' if request else ''}{crit.text}"
        if name in names:
            line = where.key("objective", i, "name")
            raise SloError(source, line, f"duplicate objective name {name!r}")
        names.add(name)
        objectives.append(
            Objective(
                name=name,
                metric=crit.metric,
                request=request,
                criterion=crit,
                warning=raw.warning,
                weight=raw.weight,
                critical=raw.critical,
                missing=raw.missing,
                description=raw.description,
                line=where.table("objective", i),
            )
        )
    gate = table.gate
    return Slo(
        objectives=tuple(objectives),
        source=source,
        min_score=gate.min_score,
        warmup=gate.warmup,
        confidence=gate.confidence,
        description=gate.description,
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
