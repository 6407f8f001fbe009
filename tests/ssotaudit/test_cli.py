"""The ``goldenpath ssot`` command, run as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "fragmented"
CANONICAL = "netra_backend.app.agents.supervisor.execution_engine_factory:ExecutionEngineFactory"
BASE = [str(FIXTURE), "--pattern", "*ExecutionEngineFactory", "--canonical", CANONICAL]


def ssot(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ssotaudit ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "ssotaudit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("goldenpath ssot: error: ")
    assert words in lines[0]
    assert "Traceback" not in proc.stderr


def test_duplicates_exit_1_with_a_table() -> None:
    proc = ssot(*BASE)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"SSOT audit of {CANONICAL}: FAIL")
    for kind in ("canonical", "alias", "wrapper", "subclass", "duplicate", "test_double"):
        assert f"\n{kind} " in proc.stdout
    assert "does not forward get_factory_metrics" in proc.stdout


def test_max_duplicates_exit_0() -> None:
    proc = ssot(*BASE, "--max-duplicates", "5")
    assert proc.returncode == 0, proc.stderr
    assert ": PASS" in proc.stdout.splitlines()[0]


def test_json_shape() -> None:
    proc = ssot(*BASE, "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["schema"] == "goldenpath.ssot/1"
    assert data["canonical"] == CANONICAL
    assert data["patterns"] == ["*ExecutionEngineFactory"]
    assert data["passed"] is False
    assert data["counts"]["duplicate"] == 5
    assert data["counts"]["implementations"] == 6
    kinds = {f["kind"] for f in data["findings"]}
    assert kinds == {"canonical", "alias", "wrapper", "subclass", "duplicate", "test_double"}
    partial = next(f for f in data["findings"] if f["non_forwarding"])
    assert partial["name"] == "RequestScopedExecutionEngineFactory"
    assert partial["non_forwarding"] == ["get_factory_metrics"]
    assert set(partial) >= {"import_path", "path", "line", "detail", "conditional"}
    assert {f["name"] for f in data["functions"]} >= {"create_execution_engine"}
    assert data["warnings"] == []


def test_markdown_for_a_pr_comment() -> None:
    proc = ssot(*BASE, "--markdown", "--max-duplicates", "5")
    assert proc.returncode == 0
    assert proc.stdout.startswith("### ✅ SSOT audit: 6 factory implementation(s)")
    assert "| Kind | Name | Import path | Location | Detail |" in proc.stdout
    assert "| duplicate | `RequestScopedExecutionEngineFactory` |" in proc.stdout


def test_import_check_and_several_patterns() -> None:
    proc = ssot(
        *BASE,
        "--pattern",
        "Nothing*,AlsoNothing*",
        "--function-pattern",
        "create_*",
        "--import-check",
        "--json",
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["patterns"] == ["*ExecutionEngineFactory", "Nothing*", "AlsoNothing*"]
    assert data["import_checked"] is True
    wrapper = next(f for f in data["findings"] if f["kind"] == "wrapper")
    assert wrapper["import_check"]["status"] == "confirmed"
    assert {f["name"] for f in data["functions"]} == {
        "create_execution_engine",
        "create_test_execution_engine",
    }


def test_syntax_error_is_a_warning_not_an_abort(tmp_path: Path) -> None:
    (tmp_path / "canon.py").write_text("class Factory:\n    pass\n")
    (tmp_path / "bad.py").write_text("def broken(:\n")
    proc = ssot(str(tmp_path), "--pattern", "*Factory", "--canonical", "canon:Factory")
    assert proc.returncode == 0, proc.stderr
    [warning] = proc.stderr.splitlines()
    assert warning.startswith("goldenpath ssot: warning: ")
    assert "bad.py:1: syntax error" in warning


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["/no/such/dir", "--pattern", "*F", "--canonical", "a:B"], "path not found: /no/such/dir"),
        ([str(FIXTURE), "--pattern", "*F", "--canonical", "nocolon"], "MODULE:CLASS"),
        ([str(FIXTURE), "--pattern", "*F", "--canonical", "no.such:Mod"], "'no.such'"),
        ([str(FIXTURE), "--pattern", "*F", "--canonical", "netra_backend:Nope"], "'Nope'"),
        ([str(FIXTURE), "--pattern", "*F"], "--canonical"),
        ([*BASE, "--max-duplicates", "-1"], "max_duplicates must be >= 0"),
        ([*BASE, "--max-duplicates", "many"], "invalid int value"),
        ([*BASE, "--json", "--markdown"], "not allowed with"),
    ],
)
def test_unusable_input_is_one_line_exit_2(args: list[str], words: str) -> None:
    assert_one_line_error(ssot(*args), words)


def test_help_exits_0() -> None:
    proc = ssot("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: goldenpath ssot")


def test_goldenpath_console_script() -> None:
    script = Path(sys.executable).parent / "goldenpath"
    if not script.exists():
        found = shutil.which("goldenpath")
        if found is None:
            pytest.skip("goldenpath console script not installed (pip install -e .)")
        script = Path(found)
    proc = subprocess.run(
        [str(script), "ssot", *BASE, "--max-duplicates", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passed"] is True
