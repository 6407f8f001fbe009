"""``goldenpath report`` as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.analysis.test_load import _bad
from tests.utils.synth import MakeRun, write_calibration

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
        "--calibration",
        write_calibration(tmp_path / "quiet.json", 0.02),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Worse: golden_path p50 +")
    assert "goldenpath report: loading" in proc.stderr and "plotting" in proc.stderr
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("### goldenpath report\n\n**Worse**: golden_path p50 +")
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
        "--calibration",
        write_calibration(tmp_path / "quiet.json", 0.02),
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


@pytest.mark.parametrize("reason", ["running", None])
def test_an_unfinished_run_is_flagged_under_the_headline(
    tmp_path: Path, make_run: MakeRun, reason: str | None
) -> None:
    """Killed mid-run (``running``), or no ``end_reason`` at all: unfinished on every screen."""
    from analysis.compare import compare
    from analysis.load import load_group
    from analysis.report import render_markdown
    from analysis.summarize import summarize

    run = make_run("killed", seed=3)
    meta = json.loads((run / "meta.json").read_text())
    meta.pop("end_detail")
    if reason is None:
        meta.pop("end_reason")
    else:
        meta["end_reason"] = reason
    (run / "meta.json").write_text(json.dumps(meta))
    shown = reason or "missing"
    md = render_markdown(summarize(load_group(run)))
    lines = md.splitlines()
    assert f"> **Warning:** killed run killed did not complete: {shown}" in lines[:6], md
    notes = compare(load_group(make_run("base", seed=4)), load_group(run)).notes
    assert f"candidate: 1 run(s) did not complete ({shown})" in notes, notes


def test_calibrate_writes_what_report_reads(tmp_path: Path, make_run: MakeRun) -> None:
    for i in range(3):
        make_run(f"canonical/run-{i}", seed=i, n=3000)
        make_run(f"legacy/run-{i}", seed=10 + i, n=3000, failure_rate=0.02 * (i + 1))
    out = tmp_path / "calibration.json"
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "calibrate", "--build", tmp_path / "canonical",
         "--build", tmp_path / "legacy", "--out", out],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "6 runs of 2 build(s)" in proc.stdout
    data = json.loads(out.read_text())
    noise = data["latency_sd_log"]["golden_path"]["p50"]
    assert noise["df"] == 4 and 0 < noise["value"] < 0.2  # (3 - 1) x 2 builds
    assert data["rate_dispersion"]["value"] > 1  # legacy's rates vary between its runs
    report = run_report("--baseline", tmp_path / "canonical" / "run-0", "--candidate",
                        tmp_path / "canonical" / "run-1", "--calibration", out, "--out",
                        tmp_path / "r")  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert f"calibration {out}" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--build", "one"], "a calibration needs at least 2 runs of a build"),
        (["--build", "missing"], "missing"),
    ],
)
def test_calibrate_refuses_bad_input_in_one_line(
    tmp_path: Path, make_run: MakeRun, args: list[str], message: str
) -> None:
    make_run("one/run-0", seed=1)
    argv = [str(tmp_path / a) if a in ("one", "missing") else a for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "calibrate", *argv, "--out", tmp_path / "c.json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_report_refuses_an_unusable_calibration(tmp_path: Path, make_run: MakeRun) -> None:
    run = make_run("r", seed=1)
    bad = tmp_path / "bad.json"
    bad.write_text('{"goldenpath_calibration": 99}')
    proc = run_report("--baseline", run, "--candidate", run, "--calibration", bad,
                      "--out", tmp_path / "o")  # fmt: skip
    assert proc.returncode == 2 and str(bad) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
