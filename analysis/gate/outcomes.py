"""What the gate answers: each objective's outcome and the verdict, in the words of
verdict.json, JUnit and the HTTP answer (one ``Outcome`` enum), with their exit codes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .criteria import COUNT, LATENCY, RATE
from .slo import Objective


class Outcome(StrEnum):
    """An objective's (and the gate's) outcome: the words of verdict.json, JUnit and the
    HTTP answer, defined once. Members are strings, so they compare and serialise as such."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    WARN = "warning"
    FAIL = "fail"
    INCONC = "inconclusive"
    SKIP = "skipped"


PASS, WARN, FAIL, INCONC, SKIP = (
    Outcome.PASS,
    Outcome.WARN,
    Outcome.FAIL,
    Outcome.INCONC,
    Outcome.SKIP,
)
EXIT_CODES: dict[str, int] = {PASS: 0, WARN: 0, FAIL: 1, INCONC: 3}


@dataclass
class ObjectiveResult:
    """How one objective fared; ``value`` is in the criterion's units (ms, fraction, count)."""

    objective: Objective
    outcome: str
    value: float | None = None
    baseline_value: float | None = None
    detail: str = ""
    more_samples: int | None = None  # per side, when inconclusive for lack of samples
    more_runs: int | None = None  # per side, when inconclusive for run-to-run noise

    def to_dict(self) -> dict[str, Any]:
        o = self.objective
        return {
            "name": o.name,
            "metric": o.metric,
            "request": o.request,
            "criterion": o.criterion.text,
            "op": o.criterion.op,
            "threshold": finite_or_none(o.criterion.threshold),
            "relative": o.relative,
            "warning": o.warning.text if o.warning else None,
            "value": finite_or_none(self.value),
            "baseline_value": finite_or_none(self.baseline_value),
            "outcome": self.outcome,
            "critical": o.critical,
            "weight": o.weight,
            "missing": o.missing,
            "detail": self.detail,
        }


@dataclass
class Verdict:
    """The gate's answer: verdict, score, every objective, and what would decide it."""

    verdict: str
    score: float | None
    results: list[ObjectiveResult]
    inconclusive_hint: str = ""
    slo_source: str = ""
    candidate: list[str] = field(default_factory=list)
    baseline: list[str] | None = None
    strict: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if self.verdict == WARN and self.strict:
            return 1
        return EXIT_CODES[self.verdict]

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def failing(self) -> list[ObjectiveResult]:
        return [r for r in self.results if r.outcome == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "passed": 1 if self.passed else 0,
            "score": finite_or_none(self.score),
            "exit_code": self.exit_code,
            "strict": self.strict,
            "failing": [r.objective.name for r in self.failing],
            "objectives": [r.to_dict() for r in self.results],
            "inconclusive_hint": self.inconclusive_hint or None,
            "slo": self.slo_source,
            "candidate": self.candidate,
            "baseline": self.baseline,
            **self.extras,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def lines(self) -> list[str]:
        """A human summary: one line per objective, then the verdict."""
        out = []
        width = max((len(r.objective.name) for r in self.results), default=10)
        for r in self.results:
            crit = "!" if r.objective.critical else " "
            value = format_value(r.value, r.objective)
            out.append(
                f"{r.outcome.upper():<12} {crit} {r.objective.name:<{width}}  "
                f"{r.objective.criterion.text:<34} {value:>12}  {r.detail}".rstrip()
            )
        score = "n/a" if self.score is None else f"{self.score:.2f}"
        head = f"gate: {self.verdict.upper()} (score {score}, exit {self.exit_code})"
        if self.failing:
            head += ": failing " + ", ".join(r.objective.name for r in self.failing)
        out.append(head)
        if self.inconclusive_hint:
            out.append(f"to decide: {self.inconclusive_hint}")
        return out


def finite_or_none(x: float | None) -> float | None:
    """A number for JSON: None for None, NaN and infinities."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def format_value(value: float | None, o: Objective) -> str:
    """A value in the objective's units: ``12.30 ms``, ``99.512%``, ``3``."""
    if value is None or not math.isfinite(value):
        return "-"
    if o.relative:
        return f"{value:.1f} ms"
    if o.kind == RATE:
        return f"{value:.3%}"
    if o.kind == LATENCY:
        return f"{value:.2f} ms"
    if o.kind == COUNT:
        return f"{value:.0f}"
    return f"{value:.2f}"
