"""The judge's input and output on disk: load runs, SLO and calibration and judge them;
write ``verdict.json`` and ``junit.xml``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analysis.calibration import Calibration
from analysis.load import load_group

from .junit import to_junit
from .outcomes import Verdict
from .slo import load_slo


def write_outputs(verdict: Verdict, out: Path) -> tuple[Path, Path]:
    """Write ``verdict.json`` and ``junit.xml`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    vpath, jpath = out / "verdict.json", out / "junit.xml"
    vpath.write_text(verdict.to_json(), encoding="utf-8")
    jpath.write_text(to_junit(verdict), encoding="utf-8")
    return vpath, jpath


def judge_dirs(
    candidate: Sequence[Path],
    baseline: Sequence[Path],
    slo_path: Path | None,
    *,
    strict: bool = False,
    calibration: Path | None = None,
) -> Verdict:
    """Load the runs, the SLO and the calibration and judge; raises SloError / ResultsError
    on bad input."""
    slo = load_slo(slo_path)
    cal = Calibration.load(calibration) if calibration is not None else None
    cand = load_group(list(candidate))
    base = load_group(list(baseline)) if baseline else None
    from .judge import judge  # scipy: imported once the input is known to be usable

    return judge(slo, cand, base, strict=strict, calibration=cal)
