"""A run from Python: RunPlan (typed, the CLI's defaults) -> run -> RunResult."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.config import UsageError
from loadtests.plan import RunPlan, build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_and_python_build_the_same_plan() -> None:
    args = build_parser().parse_args(
        ["--users", "7", "--duration", "1m30s", "--think-time", "500ms",
         "--backend-setting", "Agent_Think_MS = 5", "--connection", "persistent"]
    )  # fmt: skip
    plan = RunPlan.from_args(args)
    assert plan == RunPlan(
        users=7, duration_s=90.0, think_time_s=0.5, connection="persistent",
        backend_settings={"agent_think_ms": "5"},
    )  # fmt: skip
    assert RunPlan.from_args(build_parser().parse_args([])) == RunPlan()  # the same defaults
    assert plan.peak_users == 7 and plan.pool == 7 and plan.runs_start == "ws"
    assert RunPlan(scenario="spike", users=4).peak_users == 12
    assert RunPlan(scenario="cold-start").runs_start == "http-first"


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (RunPlan(users=0), "--users must be at least 1"),
        (RunPlan(duration_s=0), "--duration"),
        (RunPlan(scenario="storm"), "--scenario 'storm'"),
        (RunPlan(expect_workers=2), "--expect-workers needs --host"),
        (RunPlan(model="open"), "--model open needs --rate"),
        (RunPlan(host="127.0.0.1:8000"), "expected a URL"),
        (RunPlan(processes=4, pool_size=2), "a pool of 2 account(s)"),
        (RunPlan(model="Open"), "--model 'Open': one of closed, open"),  # type: ignore[arg-type]
        (RunPlan(connection="persistant"), "--connection 'persistant'"),  # type: ignore[arg-type]
        (RunPlan(arrival="poison"), "--arrival 'poison'"),  # type: ignore[arg-type]
        (RunPlan(source_addresses=0), "--source-addresses must be at least 1"),
        (RunPlan(spawn_rate=-1), "--spawn-rate must be > 0"),
        (RunPlan(backend_settings={"workers": "2"}), "the embedded backend is one process"),
    ],
)
def test_a_plan_that_cannot_run_is_refused_before_anything_starts(
    plan: RunPlan, message: str
) -> None:
    # run() checks the plan first; it imports Locust (gevent), so it runs in a child below.
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan.checked()


@pytest.mark.slow
def test_the_example_runs_a_load_run_from_python(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_from_python.py"), str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["end_reason"] == "completed" and meta["users"] == 10
    assert meta["scenario"]["connection"] == "persistent"
    assert meta["events_rows"] > 0 and (out / "events.parquet").is_file()
    assert f"{out}: completed, {meta['events_rows']} rows" in proc.stdout
    assert "failed 0, isolation violations 0, 1011 closes 0" in proc.stdout


def test_run_checks_the_plan_before_it_starts_anything(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from loadtests import RunPlan, run\n"
        "from loadtests.config import UsageError\n"
        f"out = Path({str(tmp_path / 'never')!r})\n"
        "try:\n"
        "    run(RunPlan(users=0, out=out))\n"
        "except UsageError as exc:\n"
        "    print('refused:', exc, out.exists())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout.strip() == "refused: --users must be at least 1 False", proc.stderr
