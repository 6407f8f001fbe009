"""What every form of ``goldenpath gate`` shares: its name, exit code 2, the one-line usage
error, the argument parser that reports it, the judge options and the error guard."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from analysis.errors import ResultsError
from resultsformat.cli import OneLineParser

from .errors import SloError

PROG = "goldenpath gate"
UNUSABLE = 2


class UsageError(Exception):
    """Bad options or input, reported as one line (exit 2)."""


Parser = OneLineParser  # a usage error is one line on stderr and exit code 2


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


def guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; turn every user-caused error into ``UsageError`` (one line)."""
    try:
        return fn(*args, **kwargs)
    except (SloError, ResultsError, UsageError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        where = getattr(exc, "filename", "") or ""
        raise UsageError(f"{where} {exc.strerror or exc}".strip()) from None
    except (ValueError, KeyError, TypeError) as exc:  # malformed data the readers let through
        raise UsageError(f"unusable input: {type(exc).__name__}: {exc}") from None
