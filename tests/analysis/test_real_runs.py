"""The comparison on real harness runs, not synthetic ones.

Repeated runs of the same build must not be reported as a change; the agent's
latency raised by 20 ms through configuration must be reported worse (in the
headline and the response, where the agent's time is); and the
committed baselines show isolation violations and 1011 closes on the legacy
side only.
"""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from analysis import load_group, load_run
from analysis.compare import BETTER, INCONCLUSIVE, WORSE, compare

BASELINES = Path(__file__).resolve().parents[2] / "results" / "baselines"


def harness_run(out: Path, think_ms: int, seed: int) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "loadtests.cli",
        "run",
        "--model",
        "open",
        "--rate",
        "40",
        "--users",
        "10",
        "--duration",
        "6s",
        "--seed",
        str(seed),
        "--quiet",
        "--backend-setting",
        f"agent_think_ms={think_ms}",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.alone
def test_same_build_no_change_and_20ms_slower_is_worse(tmp_path: Path) -> None:
    same = [load_run(harness_run(tmp_path / f"same-{i}", 10, seed=i)) for i in range(3)]
    slower = load_run(harness_run(tmp_path / "slower", 30, seed=9))
    for a, b in combinations(same, 2):
        result = compare(a, b)
        assert result.verdict != WORSE, result.headline
        for metric in ("p50", "p95"):
            assert result.metric("golden_path", metric)["verdict"] not in (WORSE, BETTER)
    result = compare(same[0], slower)
    assert result.verdict == WORSE, result.headline
    # The agent's 20 ms are in the response (13 -> 33 ms here, p 3e-8 against alpha/m 0.0033;
    # 14 -> 34 ms with two CPU spinners beside it), where one pair must catch them.
    row = result.metric("response", "p50")
    assert row["verdict"] == WORSE, _shown(row)
    # The golden path adds login and connect, so +20 ms is a share that depends on the
    # machine: one pair decides a p50 change of +48% or more with the shipped calibration
    # (sd 0.064 of the log, df 7); here +73% (24.5 -> 42.4 ms), +59% with two spinners, and
    # inconclusive once in CI. It must never read better.
    row = result.metric("golden_path", "p50")
    assert row["verdict"] in (WORSE, INCONCLUSIVE) and row["change"] > 0, _shown(row)


def _shown(row: Any) -> str:
    keys = ("baseline", "candidate", "change", "change_lo", "change_hi", "p_value", "verdict")
    return ", ".join(f"{k}={row[k]}" for k in (*keys, "note"))


def test_committed_baselines_show_defects_on_the_legacy_side_only() -> None:
    legacy = load_group(BASELINES / "legacy")
    canonical = load_group(BASELINES / "canonical")
    assert len(legacy.runs) == len(canonical.runs) == 3
    result = compare(legacy, canonical)
    for metric in ("isolation violations", "1011 closes"):
        row = result.metric("all", metric)
        assert row["verdict"] == BETTER, row.to_dict()
    events = {name: g.events for name, g in (("legacy", legacy), ("canonical", canonical))}
    assert (events["legacy"]["failure_kind"] == "isolation_violation").sum() > 0
    assert (events["legacy"]["close_code"] == 1011).sum() > 0
    assert (events["canonical"]["failure_kind"] == "isolation_violation").sum() == 0
    assert (events["canonical"]["close_code"] == 1011).sum() == 0
