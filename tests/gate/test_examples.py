"""The examples: SLO file, deploy-controller manifests, the PR workflow and its script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.gate.slo import load_slo, parse_slo
from tests.gate.conftest import ROOT

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
def test_pr_script_runs_here_in_dry_run_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    env["GOLDENPATH"] = str(Path(sys.executable).parent / "goldenpath")
    cmd = [str(EXAMPLES / "pr_loadtest.sh"), "--dry-run", "--users", "10", "--duration", "4s"]
    cmd += ["--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode in (0, 1, 3), done.stderr[-2000:]
    assert done.stdout.startswith("<!-- goldenpath-report -->")
    assert "**Deployment gate:** `gate:" in done.stdout
    assert (tmp_path / "gate" / "verdict.json").is_file()
    assert (tmp_path / "report" / "report.md").is_file()
