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

from .common import PROG, UNUSABLE, Parser, UsageError, add_judge_options, guarded


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
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


def judge_main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    from .files import judge_dirs, write_outputs  # pandas and scipy: not for --help

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
