"""--import-check: the static findings confirmed at runtime (importcheck.py)."""

from __future__ import annotations

from pathlib import Path

from ssotaudit import (
    Kind,
    audit,
)
from tests.utils.ssot import APP, CANON_PKG, CANONICAL, FIXTURE, PATTERNS, one, write_tree

# -- import check -----------------------------------------------------------------------


def test_import_check_confirms_the_fixture() -> None:
    report = audit([FIXTURE], PATTERNS, CANONICAL, import_check=True)
    assert report.import_checked
    by_kind: dict[Kind, set[str]] = {}
    for f in report.findings:
        if f.kind is Kind.TEST_DOUBLE:
            assert f.import_check is None
            continue
        assert f.import_check is not None, f.import_path
        by_kind.setdefault(f.kind, set()).add(f.import_check.status)
    assert by_kind[Kind.CANONICAL] == {"confirmed"}
    assert by_kind[Kind.ALIAS] == {"confirmed"}
    assert by_kind[Kind.WRAPPER] == {"confirmed"}
    assert by_kind[Kind.SUBCLASS] == {"confirmed"}
    # The except/else branches are not the definitions in effect at runtime.
    compat = [
        f for f in report.duplicates if f.module == f"{APP}.compat" and f.import_check is not None
    ]
    assert {f.import_check.status for f in compat if f.import_check} == {"mismatch"}
    assert not report.import_mismatches  # duplicates' mismatches do not fail the audit
    assert report.warnings == []


def test_import_check_reports_a_runtime_mismatch_and_import_errors(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/lying.py": """
                from pkg.canon import Factory
                AliasFactory = Factory
                AliasFactory = type("AliasFactory", (), {})
            """,
            "pkg/broken.py": """
                import does_not_exist_anywhere
                from pkg.canon import Factory
                BrokenFactory = Factory
            """,
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True)
    lying = one(report, Kind.ALIAS, "pkg.lying:AliasFactory")
    assert lying.import_check is not None and lying.import_check.status == "mismatch"
    broken = one(report, Kind.ALIAS, "pkg.broken:BrokenFactory")
    assert broken.import_check is not None and broken.import_check.status == "error"
    assert "ModuleNotFoundError" in broken.import_check.detail
    assert report.import_mismatches == [lying]
    assert not report.passed  # no duplicates, but an import path lied


def test_import_check_times_out_without_crashing(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/slow.py": """
                import time
                time.sleep(30)
                from pkg.canon import Factory as SlowFactory
            """
        },
    )
    report = audit(
        [tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True, import_timeout=1.0
    )
    assert {f.import_check.status for f in report.findings if f.import_check} == {"error"}
    assert any("timed out" in w.message for w in report.warnings)
    assert report.passed  # unverifiable is reported, not failed
