"""``goldenpath gate``: judge results against an SLO; ``gate run``; ``gate serve``.

::

    goldenpath gate --candidate DIR [--baseline DIR] [--slo FILE] [--out DIR] [--strict]
    goldenpath gate run --blue URL --green URL [--scenario steady] [--trials 2] ...
    goldenpath gate serve [--port 8089] (--candidate DIR [--baseline DIR] | --blue URL --green URL)

Exit codes: 0 pass (and warning, unless ``--strict``), 1 fail, 2 unusable
input (one line on stderr, never a traceback), 3 inconclusive.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

PROG = "goldenpath gate"
UNUSABLE = 2


class UsageError(Exception):
    """Bad options or input, reported as one line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(UNUSABLE, f"{self.prog}: error: {message}\n")


def add_judge_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every form of the gate."""
    p.add_argument(
        "--slo", type=Path, metavar="FILE",
        help="SLO file (TOML); default: the shipped remediation-plan objectives",
    )  # fmt: skip
    p.add_argument("--strict", action="store_true", help="a warning verdict exits 1 instead of 0")
    p.add_argument(
        "--calibration", type=Path, metavar="FILE",
        help="run-to-run noise measured on this machine (goldenpath calibrate); default: the "
        "calibration shipped with goldenpath",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=(
            "Judge a candidate's results against an SLO file (absolute objectives) and a\n"
            "baseline (relative objectives); write verdict.json and junit.xml.\n"
            "Exit 0 pass/warning, 1 fail, 2 unusable input, 3 inconclusive."
        ),
        epilog=(
            "other forms:\n"
            "  goldenpath gate run --blue URL --green URL ...   smoke green, interleaved "
            "trials, judge\n"
            "  goldenpath gate serve ...                        the gate over HTTP "
            "(Flagger, Argo)\n"
            "each has its own --help"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--candidate", action="append", required=True, type=Path, metavar="DIR",
        help="run directory, or directory of runs, under test (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--baseline", action="append", default=[], type=Path, metavar="DIR",
        help="run(s) to compare with, for relative objectives (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=Path("goldenpath-gate"), metavar="DIR",
        help="where to write verdict.json and junit.xml (default ./goldenpath-gate)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="print only the verdict line")
    add_judge_options(p)
    return p


def write_outputs(verdict: Any, out: Path) -> tuple[Path, Path]:
    """Write ``verdict.json`` and ``junit.xml`` under ``out``."""
    from .junit import to_junit

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
) -> Any:
    """Load the runs, the SLO and the calibration and judge; raises SloError / ResultsError
    on bad input."""
    from analysis.calibration import Calibration
    from analysis.load import load_group

    from .judge import judge
    from .slo import load_slo

    slo = load_slo(slo_path)
    cal = Calibration.load(calibration) if calibration is not None else None
    cand = load_group(list(candidate))
    base = load_group(list(baseline)) if baseline else None
    return judge(slo, cand, base, strict=strict, calibration=cal)


def guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; turn every user-caused error into ``UsageError`` (one line)."""
    from analysis.errors import ResultsError

    from .slo import SloError

    try:
        return fn(*args, **kwargs)
    except (SloError, ResultsError, UsageError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        where = getattr(exc, "filename", "") or ""
        raise UsageError(f"{where} {exc.strerror or exc}".strip()) from None
    except (ValueError, KeyError, TypeError) as exc:  # malformed data the readers let through
        raise UsageError(f"unusable input: {type(exc).__name__}: {exc}") from None


def judge_main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        verdict = guarded(
            judge_dirs,
            args.candidate,
            args.baseline,
            args.slo,
            strict=args.strict,
            calibration=args.calibration,
        )
        vpath, jpath = guarded(write_outputs, verdict, args.out)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return UNUSABLE
    lines = verdict.lines()
    if args.quiet:
        lines = [line for line in lines if line.startswith(("gate:", "to decide:"))]
    print("\n".join(lines))
    if not args.quiet:
        print(f"wrote {vpath}")
        print(f"wrote {jpath}")
    return int(verdict.exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    """``goldenpath gate [run|serve] ...``; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "run":
            from .trials import run_main

            return run_main(args[1:])
        if args and args[0] == "serve":
            from .serve import serve_main

            return serve_main(args[1:])
        return judge_main(args)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (already printed)
        return int(exc.code) if isinstance(exc.code, int) else UNUSABLE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one-line promise holds even for our bugs
        print(f"{PROG}: error: internal: {type(exc).__name__}: {exc}", file=sys.stderr)
        return UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
