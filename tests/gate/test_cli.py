"""``goldenpath gate``: unusable input exits 2 with one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.gate import BASELINES, gate_cli
from tests.utils.synth import MakeRun


def one_line_error(done, *needles: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("goldenpath gate: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in done.stderr


def test_missing_baseline(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-baseline"
    done = gate_cli("--candidate", BASELINES / "canonical", "--baseline", missing)
    one_line_error(done, str(missing), "no such run directory")


def test_unreadable_events(make_run: MakeRun, tmp_path: Path) -> None:
    run = make_run("broken", n=500)
    (run / "events.parquet").write_bytes(b"PAR1 this is not parquet")
    one_line_error(gate_cli("--candidate", run, "--out", tmp_path / "o"), "events.parquet")


def test_wrong_schema_version(make_run: MakeRun, tmp_path: Path) -> None:
    run = make_run("future", n=500, schema_version=99)
    one_line_error(gate_cli("--candidate", run, "--out", tmp_path / "o"), "schema_version")


def test_corrupt_factory_metrics(make_run: MakeRun, tmp_path: Path) -> None:
    run = make_run("metrics", n=500)
    (run / "factory_metrics_after.json").write_text("{not json")
    done = gate_cli("--candidate", run, "--out", tmp_path / "o")
    one_line_error(done, "factory_metrics_after.json", "not valid JSON")


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    one_line_error(gate_cli("--candidate", tmp_path / "empty"), "meta.json")


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = gate_cli("--candidate", BASELINES / "canonical", "--out", blocker / "sub")
    one_line_error(done)


@pytest.mark.parametrize("args", [[], ["--candidate"], ["--bogus", "x"]])
def test_bad_usage(args: list[str]) -> None:
    one_line_error(gate_cli(*args))


def test_help_lists_the_forms() -> None:
    done = gate_cli("--help")
    assert done.returncode == 0 and "gate run" in done.stdout and "serve" in done.stdout
    assert gate_cli("run", "--help").returncode == 0
    assert gate_cli("serve", "--help").returncode == 0
