"""``goldenpath report`` as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.analysis.conftest import MakeRun
from tests.analysis.test_load import _bad

IMG = re.compile(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')


def run_report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compare_report(tmp_path: Path, make_run: MakeRun) -> None:
    base = make_run("base", seed=1, n=4000)
    cand = make_run("cand", seed=2, n=4000, shift_ms=20.0)
    out = tmp_path / "out"
    proc = run_report(
        "--baseline",
        base,
        "--candidate",
        cand,
        "--out",
        out,
        "--progress",
        "always",
        "--run-cv",
        "0",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Worse - worse: golden_path p50 +")
    assert "goldenpath report: loading" in proc.stderr and "plotting" in proc.stderr
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("### goldenpath report: ❌ worse")
    assert md.count("<details>") == md.count("</details>") >= 3
    assert "| golden_path | p50 |" in md
    assert len(md) < 65_000  # a GitHub comment's limit
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(IMG.findall(page)) >= 4
    assert "<script" not in page and "http://" not in page.replace("http://127.0.0.1", "")


def test_fail_on_worse(tmp_path: Path, make_run: MakeRun) -> None:
    base = make_run("base", seed=1, n=4000)
    cand = make_run("cand", seed=2, n=4000, shift_ms=20.0)
    proc = run_report(
        "--baseline",
        base,
        "--candidate",
        cand,
        "--out",
        tmp_path / "o",
        "--fail-on-worse",
        "--run-cv",
        "0",
    )
    assert proc.returncode == 1
    assert proc.stderr == ""  # no progress off a terminal by default


def test_single_run_and_groups(tmp_path: Path, make_run: MakeRun) -> None:
    for i in range(2):
        make_run(f"grp/run-{i}", seed=i, isolation_violations=2)
    proc = run_report("--candidate", tmp_path / "grp", "--out", tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    assert "run summary of `grp (2 runs)`" in md
    assert "**4 isolation violations" in md  # 2 runs x 2 agent runs
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert len(IMG.findall(page)) >= 4


def test_legacy_vs_canonical_report(tmp_path: Path, baselines: dict[str, Path]) -> None:
    out = tmp_path / "o"
    proc = run_report(
        "--baseline", baselines["legacy"], "--candidate", baselines["canonical"], "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    md = (out / "report.md").read_text(encoding="utf-8")
    iso = re.search(r"^\| all \| isolation violations \| (\d+) \(.*?\) \| (\d+) \(", md, re.M)
    closes = re.search(r"^\| all \| 1011 closes \| (\d+) \(.*?\) \| (\d+) \(", md, re.M)
    assert iso and closes, md
    assert int(iso[1]) > 0 and int(iso[2]) == 0
    assert int(closes[1]) > 0 and int(closes[2]) == 0


@pytest.mark.parametrize(
    "case",
    ["empty run", "missing events", "corrupt parquet", "wrong schema_version", "missing meta"],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, make_run: MakeRun, case: str) -> None:
    run, culprit = _bad(tmp_path, make_run, case)
    proc = run_report("--candidate", run, "--out", tmp_path / "o")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("goldenpath report: error: ")
    assert str(culprit) in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_bad_baseline_is_named_too(tmp_path: Path, make_run: MakeRun) -> None:
    good = make_run("good", seed=1)
    bad = make_run("old", seed=2)
    meta = json.loads((bad / "meta.json").read_text())
    meta["schema_version"] = 0
    (bad / "meta.json").write_text(json.dumps(meta))
    proc = run_report("--candidate", good, "--baseline", bad, "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and str(bad / "meta.json") in proc.stderr


def test_usage_errors() -> None:
    from analysis.cli import report_main

    assert report_main([]) == 2  # --candidate is required
    proc = run_report("--candidate", "x", "--no-such-flag")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "goldenpath report: error: unrecognized arguments: --no-such-flag"
    ]
    assert report_main(["--candidate", "x", "--warmup", "soon"]) == 2


def test_an_unfinished_run_is_flagged_under_the_headline(tmp_path: Path, make_run: MakeRun) -> None:
    from analysis.load import load_group
    from analysis.report import render_markdown
    from analysis.summarize import summarize

    run = make_run("killed", seed=3)
    meta = json.loads((run / "meta.json").read_text())
    meta.update(end_reason="running", end_detail=None)  # the harness was killed mid-run
    (run / "meta.json").write_text(json.dumps(meta))
    md = render_markdown(summarize(load_group(run)))
    lines = md.splitlines()
    assert "> ⚠️ killed run killed did not complete (running)" in lines[:6], md
