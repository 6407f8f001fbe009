"""What input the audit refuses, with the error that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssotaudit import (
    CanonicalNotFoundError,
    CanonicalSpecError,
    InputPathError,
    SSOTError,
    audit,
)

# -- unusable input ---------------------------------------------------------------------
from tests.utils.ssot import APP, CANONICAL, FIXTURE, PATTERNS


@pytest.mark.parametrize(
    ("paths", "canonical", "error", "words"),
    [
        (["missing-dir"], CANONICAL, InputPathError, "path not found"),
        ([FIXTURE], "no_colon", CanonicalSpecError, "MODULE:CLASS"),
        ([FIXTURE], "a.b:not valid", CanonicalSpecError, "MODULE:CLASS"),
        ([FIXTURE], "nope.mod:X", CanonicalNotFoundError, "canonical module 'nope.mod'"),
        ([FIXTURE], f"{APP}.dependencies:Missing", CanonicalNotFoundError, "'Missing'"),
        (
            [FIXTURE],
            f"{APP}.dependencies:create_execution_engine",
            CanonicalNotFoundError,
            "is not a class",
        ),
        ([FIXTURE / "README.md"], CANONICAL, InputPathError, "not a Python file"),
    ],
)
def test_unusable_input(
    paths: list[Path | str], canonical: str, error: type[SSOTError], words: str
) -> None:
    with pytest.raises(error, match=words):
        audit(paths, PATTERNS, canonical)


def test_no_pattern_is_an_error() -> None:
    with pytest.raises(SSOTError, match="pattern"):
        audit([FIXTURE], [], CANONICAL)
