"""``goldenpath report``: Markdown + HTML report of a run, or of a candidate vs a baseline.

Exit codes: 0 report written; 1 the comparison says *worse* and
``--fail-on-worse`` was given; 2 bad usage or bad results (one line on stderr
naming the file at fault, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from resultsformat.cli import OneLineParser

PROG = "goldenpath report"


class ProgressLine:
    """One status line on stderr: rewritten in place on a terminal, else one line a step."""

    def __init__(self, stream: TextIO, *, enabled: bool, in_place: bool) -> None:
        self.stream, self.enabled, self.in_place = stream, enabled, in_place
        self._dirty = False

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        if self.in_place:
            self.stream.write(f"\r\033[K{PROG}: {message}")
            self._dirty = True
        else:
            self.stream.write(f"{PROG}: {message}\n")
        self.stream.flush()

    def clear(self) -> None:
        if self._dirty:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._dirty = False


_Parser = OneLineParser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Summarize a load run, or compare a candidate with a baseline, into report.md "
            "(a PR comment) and report.html (self-contained, with plots). Each DIR is a run "
            "directory or a directory holding run directories; repeat an option for a "
            "group of repeated runs."
        ),
    )
    parser.add_argument(
        "--candidate", action="append", required=True, metavar="DIR", type=Path,
        help="the run(s) under test",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", action="append", default=[], metavar="DIR", type=Path,
        help="the run(s) to compare with; without it the report summarizes the candidate",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("goldenpath-report"), metavar="DIR",
        help="where to write report.md and report.html (default: ./goldenpath-report)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", default="auto", metavar="auto|none|DURATION",
        help="warm-up to drop from each run: detected (auto, the default), none, or fixed",
    )  # fmt: skip
    parser.add_argument(
        "--confidence", type=float, default=0.95, help="interval level (default 0.95)"
    )
    parser.add_argument(
        "--min-change", type=float, default=0.05, metavar="FRACTION",
        help="smallest relative change that matters (default 0.05 = 5%%)",
    )  # fmt: skip
    parser.add_argument(
        "--calibration", type=Path, metavar="FILE",
        help="run-to-run noise measured on this machine (goldenpath calibrate); default: the "
        "calibration shipped with goldenpath",
    )  # fmt: skip
    parser.add_argument(
        "--fail-on-worse", action="store_true", help="exit 1 when the verdict is worse"
    )
    parser.add_argument(
        "--progress", choices=("auto", "always", "never"), default="auto",
        help="progress on stderr (auto: only on a terminal)",
    )  # fmt: skip
    return parser


def report_main(argv: Sequence[str] | None = None) -> int:
    """Run ``goldenpath report``; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code or 0)

    # pandas for the input checks; scipy and matplotlib once the input is known to be usable
    from analysis.calibration import Calibration
    from analysis.errors import ResultsError
    from analysis.load import load_group
    from analysis.steady import parse_warmup

    try:
        warmup = parse_warmup(args.warmup)
    except ValueError as exc:
        print(f"{PROG}: error: --{exc}", file=sys.stderr)
        return 2
    if not 0.5 <= args.confidence < 1 or args.min_change < 0:
        print(f"{PROG}: error: --confidence in [0.5, 1), --min-change >= 0", file=sys.stderr)
        return 2

    tty = sys.stderr.isatty()
    progress = ProgressLine(
        sys.stderr,
        enabled=args.progress == "always" or (args.progress == "auto" and tty),
        in_place=tty,
    )
    try:
        cal = Calibration.load(args.calibration) if args.calibration else None
        # The files are checked now and streamed by summarize, a batch at a time.
        cand = load_group(args.candidate, progress=progress)
        base = load_group(args.baseline, progress=progress) if args.baseline else None
    except ResultsError as exc:
        progress.clear()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    from analysis.compare import WORSE, Comparison, Thresholds, compare
    from analysis.report import write_report
    from analysis.summarize import summarize
    from analysis.summary import Summary

    try:
        progress(f"summarizing candidate ({sum(r.rows for r in cand.runs):,} rows)")
        sc = summarize(cand, warmup=warmup, confidence=args.confidence, progress=progress)
        result: Comparison | Summary = sc
        if base is not None:
            progress(f"summarizing baseline ({sum(r.rows for r in base.runs):,} rows)")
            sb = summarize(base, warmup=warmup, confidence=args.confidence, progress=progress)
            progress("comparing")
            th = Thresholds(confidence=args.confidence, min_rel_change=args.min_change)
            result = compare(sb, sc, thresholds=th, calibration=cal)
        md, page = write_report(result, args.out, progress=progress)
    except ResultsError as exc:
        progress.clear()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        progress.clear()
        print(f"{PROG}: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    progress.clear()
    headline = result.headline if isinstance(result, Comparison) else f"summary of {sc.label}"
    print(headline)
    print(f"wrote {md}")
    print(f"wrote {page}")
    if isinstance(result, Comparison) and result.verdict == WORSE and args.fail_on_worse:
        return 1
    return 0


CALIBRATE_PROG = "goldenpath calibrate"


def calibrate_main(argv: Sequence[str] | None = None) -> int:
    """``goldenpath calibrate --build DIR [--build DIR] --out FILE``: measure run-to-run noise."""
    parser = _Parser(
        prog=CALIBRATE_PROG,
        description=(
            "Measure run-to-run noise on this machine from repeated runs of one build (each "
            "--build is a directory of its runs; give several builds to pool them, e.g. "
            "canonical and legacy: only runs that fail show how rates vary), and write the "
            "calibration that goldenpath report and gate take as --calibration."
        ),
    )
    parser.add_argument(
        "--build", action="append", required=True, type=Path, metavar="DIR",
        help="a directory of at least 2 runs of one build (repeatable)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="FILE")
    parser.add_argument("--warmup", default="auto", metavar="auto|none|DURATION")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)

    from analysis.calibration import calibrate
    from analysis.errors import ResultsError
    from analysis.load import load_group
    from analysis.steady import parse_warmup
    from analysis.summarize import summarize
    from resultsformat.meta import describe_end, is_completed

    try:
        warmup = parse_warmup(args.warmup)
    except ValueError as exc:
        print(f"{CALIBRATE_PROG}: error: --{exc}", file=sys.stderr)
        return 2
    try:
        groups = [load_group(d) for d in args.build]
        # The one completion rule: a run cut short would pass its own noise off as the build's.
        unfinished = [
            f"{run.label} ({describe_end(run.meta)})"
            for group in groups
            for run in group.runs
            if not is_completed(run.meta)
        ]
        if unfinished:
            raise ValueError(f"runs that did not complete: {', '.join(unfinished)}; leave them out")
        builds = [summarize(group, warmup=warmup) for group in groups]
        cal = calibrate(builds, source=str(args.out))
        cal.write(args.out)
    except (ResultsError, ValueError) as exc:  # unusable runs, or too few of them
        print(f"{CALIBRATE_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{CALIBRATE_PROG}: error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    print(cal.describe())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(report_main())
