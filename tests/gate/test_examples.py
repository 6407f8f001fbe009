"""The examples: SLO file, deploy-controller manifests, the PR workflow and its script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.gate.slo import load_slo, parse_slo
from tests.utils.gate import ROOT

EXAMPLES = ROOT / "examples"


def test_example_slo_parses() -> None:
    slo = load_slo(EXAMPLES / "slo.toml")
    assert {o.name for o in slo.objectives} >= {"isolation", "response-p99-vs-baseline"}


def test_flagger_manifest_points_the_webhook_at_the_gate() -> None:
    yaml = pytest.importorskip("yaml")
    docs = list(yaml.safe_load_all((EXAMPLES / "flagger-canary.yaml").read_text()))
    canary = next(d for d in docs if d["kind"] == "Canary")
    hook = canary["spec"]["analysis"]["webhooks"][0]
    assert hook["url"].endswith("/gate") and hook["type"] == "pre-rollout"
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert parse_slo(config["data"]["slo.toml"], "flagger-canary.yaml").objectives


def test_argo_template_reads_passed_from_get_gate() -> None:
    yaml = pytest.importorskip("yaml")
    docs = list(yaml.safe_load_all((EXAMPLES / "argo-analysis-template.yaml").read_text()))
    template = next(d for d in docs if d["kind"] == "AnalysisTemplate")
    metric = template["spec"]["metrics"][0]
    assert "result.passed == 1" in metric["successCondition"]
    assert "/gate?" in metric["provider"]["web"]["url"]


def test_workflow_runs_the_script() -> None:
    text = (ROOT / ".github" / "workflows" / "loadtest.yml").read_text()
    assert "pull_request" in text and "examples/pr_loadtest.sh" in text
    assert os.access(EXAMPLES / "pr_loadtest.sh", os.X_OK)
    assert "<!-- goldenpath-report -->" in (EXAMPLES / "pr_loadtest.sh").read_text()


@pytest.mark.slow
def test_pr_script_compares_base_and_head_on_one_machine(tmp_path: Path) -> None:
    """The PR script's steps, locally (not the GitHub API): the base commit in a second
    worktree with its own interpreter, two backends, interleaved trials, the report on
    them, the comment; and nothing left behind."""
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    env["GOLDENPATH_PYTHON"] = sys.executable
    out = tmp_path / "pr"
    cmd = [str(EXAMPLES / "pr_loadtest.sh"), "--dry-run", "--base", "HEAD", "--reuse-deps"]
    cmd += ["--users", "4", "--duration", "3s", "--trials", "1", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    verdict = json.loads((out / "gate" / "verdict.json").read_text())
    assert done.returncode == verdict["exit_code"], done.stderr[-3000:]  # the gate's code
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert done.stdout.startswith("<!-- goldenpath-report -->"), done.stdout[:500]
    assert f"vs head `{head}` on one runner:** `gate:" in done.stdout
    assert "### goldenpath report" in done.stdout  # the report on the trials, in the comment
    # base ran from its own worktree, with its own interpreter; head from this checkout
    base_pth = next((out / "base-venv").rglob("00-goldenpath-base.pth"))
    assert base_pth.read_text().strip() == str(out / "base")
    assert (out / "base.url").read_text() != (out / "head.url").read_text()
    # the trials were interleaved, base (blue) first, and the report read them
    sides = [t["side"] for t in verdict["trials"]]
    assert sides[:2] == ["blue", "green"] and len(sides) % 2 == 0
    report = (out / "report" / "report.md").read_text()
    assert "- baseline `trial-1`" in report and "- candidate `trial-1`" in report
    # nothing left: both backends ended (by PID), the worktree removed
    for name in ("base", "head"):
        pid = int((out / f"{name}.pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (out / "base").exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True)
    assert str(out / "base") not in listed.stdout
