"""Judge loaded runs against an SLO: one outcome per objective, one verdict for the gate.

Outcomes: ``pass``, ``warning`` (the criterion failed but the looser warning
criterion held), ``fail``, ``inconclusive`` (not enough data to tell) and
``skipped`` (no data, and the objective's missing-data policy says skip).

The verdict:

* **fail**: a critical objective fails, or the weighted score (pass 1,
  warning 0.5, fail 0, over decided objectives) is below ``min_score``;
* **warning**: otherwise, when any objective warns or (non-critically) fails;
* **pass**: every objective passed or was skipped;
* **inconclusive**: the decision depends on the inconclusive objectives (the
  exit code differs between counting them all as passed and all as failed);
  when it does not, the verdict is the worse of the two. Either way the hint
  says how much more data would decide them.

Relative objectives (``p95 <= +10%``) use :func:`analysis.compare.compare`
with the tolerance as the practical threshold: a change fails only when it is
statistically significant *and* at least the tolerance *and* at least 0.1 IQR,
so a tiny significant shift does not fail a deploy. It passes when compare finds
no practical change, or when the change's interval lies wholly below the
tolerance (the criterion is one-sided); otherwise it is inconclusive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.calibration import Calibration
from analysis.compare import (
    BETTER,
    INCONCLUSIVE,
    NEGLIGIBLE,
    SAME,
    WORSE,
    Comparison,
    Thresholds,
    compare,
)
from analysis.load import RunGroup
from analysis.quantiles import qlabel
from analysis.summarize import summarize
from analysis.summary import Summary
from resultsformat.meta import describe_end, is_completed

from .criteria import METRICS, Criterion
from .outcomes import (
    EXIT_CODES,
    FAIL,
    INCONC,
    PASS,
    SKIP,
    WARN,
    ObjectiveResult,
    Outcome,
    Verdict,
    finite_or_none,
    format_value,
)
from .readers import Missing, TooFew
from .slo import Objective, Slo

__all__ = [
    "EXIT_CODES",
    "FAIL",
    "INCONC",
    "PASS",
    "RUNS_COMPLETED",
    "SKIP",
    "WARN",
    "Judge",
    "ObjectiveResult",
    "Outcome",
    "Verdict",
    "absolute_value",
    "decide",
    "format_value",
    "judge",
]

_SCORE: dict[str, float] = {PASS: 1.0, WARN: 0.5, FAIL: 0.0}

# Always judged, whatever the SLO file says: figures from a run that lost a worker,
# lost its backend, failed to write its results or was killed are not a measurement
# of the build, so such a run fails the gate rather than quietly passing it.
RUNS_COMPLETED = Objective(
    name="runs-completed",
    metric="runs_completed",
    request=None,
    criterion=Criterion("runs_completed", "==", 1.0, False, "every run completed"),
    critical=True,
    description="every judged run ended with end_reason 'completed' (meta.json)",
)


# --- values -----------------------------------------------------------------------------


def absolute_value(o: Objective, s: Summary, group: RunGroup) -> float:
    """The objective's metric measured on the candidate, by the reader in the SLO metric
    table; raises ``Missing`` when the results lack it, ``TooFew`` when samples are few."""
    return METRICS[o.metric].read(o.metric, o.request, s, group)


# --- judging -----------------------------------------------------------------------------


class Judge:
    """Evaluate an SLO on a candidate group, against an optional baseline group."""

    def __init__(
        self,
        slo: Slo,
        candidate: RunGroup,
        baseline: RunGroup | None = None,
        *,
        strict: bool = False,
        calibration: Calibration | None = None,
    ) -> None:
        self.slo, self.candidate, self.baseline, self.strict = slo, candidate, baseline, strict
        self.calibration = calibration  # None: the calibration shipped with goldenpath
        self.sc = summarize(candidate, warmup=slo.warmup, confidence=slo.confidence)
        self.sb = (
            summarize(baseline, warmup=slo.warmup, confidence=slo.confidence)
            if baseline is not None
            else None
        )
        self._comparisons: dict[float, Comparison] = {}

    def comparison(self, tolerance: float) -> Comparison:
        """``compare`` with ``tolerance`` as the practical threshold (cached per tolerance)."""
        assert self.sb is not None, "a comparison needs a baseline (the caller checks first)"
        if tolerance not in self._comparisons:
            th = Thresholds(min_rel_change=tolerance, confidence=self.slo.confidence)
            self._comparisons[tolerance] = compare(
                self.sb, self.sc, thresholds=th, calibration=self.calibration
            )
        return self._comparisons[tolerance]

    def run(self) -> Verdict:
        results = [*(self.evaluate(o) for o in self.slo.objectives), self._runs_completed()]
        verdict, score = decide(results, self.slo.min_score, strict=self.strict)
        undecided = any(r.outcome == INCONC for r in results)
        out = Verdict(
            verdict=verdict,
            score=score,
            results=results,
            inconclusive_hint=self.hint(results) if undecided else "",
            slo_source=self.slo.source,
            candidate=[str(r.path) for r in self.candidate.runs],
            baseline=[str(r.path) for r in self.baseline.runs] if self.baseline else None,
            strict=self.strict,
        )
        if self.sb is not None:
            # The comparison the report shows, in the same words (its default 5% threshold).
            c = self.comparison(Thresholds().min_rel_change)
            out.extras["comparison"] = {
                "verdict": c.verdict.value,
                "headline": c.headline,
                "calibration": c.calibration.describe(),
            }
        return out

    def _runs_completed(self) -> ObjectiveResult:
        groups = [("candidate", self.candidate), ("baseline", self.baseline)]
        unfinished = [
            f"{side} {run.label}: {describe_end(run.meta)}"
            for side, group in groups
            if group is not None
            for run in group.runs
            if not is_completed(run.meta)
        ]
        if unfinished:
            return ObjectiveResult(RUNS_COMPLETED, FAIL, 0.0, detail="; ".join(unfinished))
        return ObjectiveResult(RUNS_COMPLETED, PASS, 1.0)

    def evaluate(self, o: Objective) -> ObjectiveResult:
        try:
            if o.relative:
                return self._relative(o)
            value = absolute_value(o, self.sc, self.candidate)
        except Missing as exc:
            return _missing(o, str(exc))
        except TooFew as exc:
            return ObjectiveResult(o, INCONC, detail=str(exc), more_samples=exc.need - exc.have)
        if o.criterion.holds(value):
            return ObjectiveResult(o, PASS, value=value)
        threshold = format_value(o.criterion.threshold, o)
        if o.warning is not None and o.warning.holds(value):
            return ObjectiveResult(o, WARN, value=value, detail=f"within the warning band "
                                   f"({o.warning.text}); criterion {threshold}")  # fmt: skip
        needs = f"{o.criterion.op} {threshold}"
        return ObjectiveResult(
            o, FAIL, value=value, detail=f"{format_value(value, o)}, needs {needs}"
        )

    def _relative(self, o: Objective) -> ObjectiveResult:
        if self.sb is None:
            return ObjectiveResult(o, SKIP, detail="relative objective: no baseline given")
        request, label = str(o.request), qlabel(float(o.metric[1:]) / 100.0)
        cmp = self.comparison(o.criterion.threshold)
        try:
            row = cmp.metric(request, label)
        except KeyError:
            raise Missing(f"no {request!r} {label} on both sides") from None
        value, base = finite_or_none(row["candidate"]), finite_or_none(row["baseline"])
        if value is None or base is None:
            raise Missing(f"no successful {request!r} samples on one side")
        detail = _describe(row)
        v = row["verdict"]
        if v in (SAME, BETTER, NEGLIGIBLE):
            return ObjectiveResult(o, PASS, value, base, detail)
        if v == WORSE:
            if o.warning is not None:
                wrow = self.comparison(o.warning.threshold).metric(request, label)
                if wrow["verdict"] != WORSE:
                    return ObjectiveResult(
                        o, WARN, value, base, f"{detail}; within the warning band"
                    )
            return ObjectiveResult(o, FAIL, value, base, detail)
        assert v == INCONCLUSIVE, f"a comparison verdict: {v!r}"
        hi = finite_or_none(row["change_hi"])
        if hi is not None and hi < o.criterion.threshold:
            # The criterion is one-sided: an interval (calibrated noise included) wholly below
            # the tolerance settles it, even when compare, two-sided, cannot say "no change".
            return ObjectiveResult(o, PASS, value, base, f"{detail}; upper bound below tolerance")
        note = str(row.get("note") or "")
        runs, samples = _count(row.get("more_runs")), _count(row.get("more_samples"))
        return ObjectiveResult(
            o,
            INCONC,
            value,
            base,
            f"{detail}; {note}" if note else detail,
            more_samples=samples,
            more_runs=runs,
        )

    def hint(self, results: list[ObjectiveResult]) -> str:
        """What more data would decide the inconclusive objectives."""
        parts = []
        for r in results:
            if r.outcome != INCONC:
                continue
            o = r.objective
            if r.more_runs:
                parts.append(f"{o.name}: about {r.more_runs} more run(s) (trials) per side")
            elif r.more_samples:
                rps = self._rate(o.request)
                secs = f" (about {r.more_samples / rps:.0f} s more at {rps:.1f}/s)" if rps else ""
                side = " per side" if o.relative else ""
                parts.append(f"{o.name}: about {r.more_samples:,} more samples{side}{secs}")
            else:
                parts.append(f"{o.name}: {r.detail or 'more data'}")
        return "; ".join(parts)

    def _rate(self, request: str | None) -> float:
        if request and request in self.sc.latency.index:
            rps = float(self.sc.latency.loc[request, "throughput_rps"])
            return rps if math.isfinite(rps) and rps > 0 else 0.0
        return 0.0


def _describe(row: Any) -> str:
    change, lo, hi = row["change"], row["change_lo"], row["change_hi"]
    if not np.isfinite(change):
        return f"verdict {row['verdict']}"
    text = f"change {change:+.1%}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:+.1%}, {hi:+.1%}]"
    if np.isfinite(row["p_value"]):
        text += f", p={row['p_value']:.2g}"
    return f"{text}, {row['verdict']}"


def _count(x: Any) -> int | None:
    return int(x) if x is not None and np.isfinite(x) and x > 0 else None


def _missing(o: Objective, reason: str) -> ObjectiveResult:
    outcome = {"fail": FAIL, "pass": PASS, "inconclusive": INCONC, "skip": SKIP}[o.missing]
    return ObjectiveResult(o, outcome, detail=f"no data ({reason}); missing = {o.missing}")


def _verdict_of(
    outcomes: list[tuple[Objective, str]], min_score: float
) -> tuple[str, float | None]:
    decided = [(o, out) for o, out in outcomes if out in _SCORE]
    total = sum(o.weight for o, _ in decided)
    score = sum(o.weight * _SCORE[out] for o, out in decided) / total if total else None
    if any(o.critical and out == FAIL for o, out in decided):
        return FAIL, score
    if score is not None and score < min_score:
        return FAIL, score
    if any(out in (WARN, FAIL) for _, out in decided):
        return WARN, score
    return PASS, score


def _exit(verdict: str, strict: bool) -> int:
    return 1 if verdict == WARN and strict else EXIT_CODES[verdict]


def decide(
    results: list[ObjectiveResult], min_score: float, *, strict: bool = False
) -> tuple[str, float | None]:
    """The gate verdict and the score over decided objectives (see the module docstring)."""
    pairs = [(r.objective, r.outcome) for r in results]
    _, score = _verdict_of(pairs, min_score)
    if not any(out in _SCORE for _, out in pairs) and not any(out == INCONC for _, out in pairs):
        return INCONC, None  # everything skipped: nothing was judged
    best, _ = _verdict_of([(o, PASS if out == INCONC else out) for o, out in pairs], min_score)
    worst, _ = _verdict_of([(o, FAIL if out == INCONC else out) for o, out in pairs], min_score)
    if best == worst:
        return best, score
    # Undecided objectives that cannot change the decision (e.g. pass or warning, both
    # exit 0) leave the verdict at its worst case; the hint still says what would decide.
    return (worst if _exit(best, strict) == _exit(worst, strict) else INCONC), score


def judge(
    slo: Slo,
    candidate: RunGroup,
    baseline: RunGroup | None = None,
    *,
    strict: bool = False,
    calibration: Calibration | None = None,
) -> Verdict:
    """Judge ``candidate`` (against ``baseline`` for relative objectives) by ``slo``."""
    return Judge(slo, candidate, baseline, strict=strict, calibration=calibration).run()
