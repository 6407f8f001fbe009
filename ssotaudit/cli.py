"""``goldenpath ssot``: audit a tree for duplicate factory implementations.

Exit codes: 0 within the allowance, 1 too many independent duplicates (or an
import path that ``--import-check`` contradicted), 2 unusable input (one line
on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ssotaudit import DEFAULT_FUNCTION_PATTERNS, SSOTError, audit
from ssotaudit.render import render_json, render_markdown, render_table

__all__ = ["main"]

PROG = "goldenpath ssot"


class _UsageError(SSOTError):
    """Bad command-line arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage plus a line; the contract here is one line.
        raise _UsageError(f"{message} (see {PROG} --help)")


def _split(values: list[str] | None) -> list[str]:
    """``--pattern A --pattern B,C`` -> ``[A, B, C]``."""
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for ``--help`` tests and docs)."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Statically count duplicate factory implementations and check that every import "
            "path resolves to (or delegates to) one canonical class."
        ),
        epilog="exit codes: 0 pass, 1 too many duplicates or an import mismatch, 2 bad input",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="directories or .py files")
    parser.add_argument(
        "--canonical", required=True, metavar="MODULE:CLASS", help="the one canonical class"
    )
    parser.add_argument(
        "--pattern",
        action="append",
        required=True,
        metavar="GLOB",
        help="fnmatch pattern for factory class names; repeat or comma-separate",
    )
    parser.add_argument(
        "--function-pattern",
        action="append",
        metavar="GLOB",
        help=f"pattern for module-level factory functions (default: "
        f"{', '.join(DEFAULT_FUNCTION_PATTERNS)})",
    )
    parser.add_argument(
        "--exclude", action="append", metavar="GLOB", help="skip paths matching (relative to root)"
    )
    parser.add_argument(
        "--max-duplicates",
        type=int,
        default=0,
        metavar="N",
        help="independent duplicates allowed (a migration in progress); default 0",
    )
    parser.add_argument(
        "--import-check",
        action="store_true",
        help="also import each reported path in a subprocess to confirm it",
    )
    parser.add_argument(
        "--import-timeout", type=float, default=30.0, metavar="S", help="default 30"
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--markdown", action="store_true", help="print Markdown for a PR comment")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the audit and return the exit code."""
    args_list = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(args_list)
        if args.import_timeout <= 0:
            raise _UsageError("--import-timeout must be > 0")
        report = audit(
            args.paths,
            _split(args.pattern),
            args.canonical,
            function_patterns=_split(args.function_pattern) or DEFAULT_FUNCTION_PATTERNS,
            max_duplicates=args.max_duplicates,
            exclude=_split(args.exclude),
            import_check=args.import_check,
            import_timeout=args.import_timeout,
        )
    except SSOTError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"{PROG}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2
    for warning in report.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    if args.json:
        sys.stdout.write(render_json(report))
    elif args.markdown:
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_table(report))
    return 0 if report.passed else 1
