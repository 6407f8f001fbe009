"""The judge: committed baselines against the default SLO, relative objectives, the verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from analysis.gate.judge import (
    FAIL,
    INCONC,
    PASS,
    SKIP,
    WARN,
    ObjectiveResult,
    decide,
    judge,
)
from analysis.gate.junit import to_junit
from analysis.gate.slo import Objective, load_slo, parse_criterion, parse_slo
from analysis.load import load_group
from tests.utils.gate import BASELINES, gate_cli
from tests.utils.synth import MakeRun, flat_calibration

QUIET = flat_calibration(0.02)  # runs of one build agree within about 2% on this machine

RELATIVE = """\
[gate]
warmup = "none"

[[objective]]
name = "golden-path-p95-vs-baseline"
request = "golden_path"
criterion = "p95 <= +10%"
warning = "<= +25%"
critical = true

[[objective]]
name = "errors"
criterion = "failure_rate < 1%"
weight = 3
"""


def outcomes(verdict) -> dict[str, str]:
    return {r.objective.name: r.outcome for r in verdict.results}


# --- the committed baselines ------------------------------------------------------------


def test_canonical_baseline_passes_the_default_slo(tmp_path: Path) -> None:
    done = gate_cli("--candidate", BASELINES / "canonical", "--out", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "pass" and verdict["exit_code"] == 0
    by_name = {o["name"]: o for o in verdict["objectives"]}
    assert by_name["isolation"]["value"] == 0
    assert by_name["factory-creation-p99"]["outcome"] == "pass"
    assert by_name["engines-released"]["value"] == 0
    # Relative objectives need a baseline: skipped, and said so.
    assert by_name["golden-path-p95-vs-baseline"]["outcome"] == "skipped"
    for o in verdict["objectives"]:
        assert {"name", "metric", "request", "op", "threshold", "value", "baseline_value"} <= set(o)
        assert {"outcome", "critical", "weight", "detail"} <= set(o)


def test_legacy_baseline_fails_and_junit_names_the_objectives(tmp_path: Path) -> None:
    done = gate_cli("--candidate", BASELINES / "legacy", "--out", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate: FAIL" in done.stdout
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "fail"
    assert {"isolation", "ws-1011-closes", "golden-path-completion"} <= set(verdict["failing"])
    by_name = {o["name"]: o for o in verdict["objectives"]}
    assert by_name["isolation"]["value"] > 0 and by_name["ws-1011-closes"]["value"] > 0
    # The legacy factory reports no creation times: missing = "skip".
    assert by_name["factory-creation-p99"]["outcome"] == "skipped"

    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "goldenpath-gate"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {o["name"] for o in verdict["objectives"]}
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == set(verdict["failing"])
    assert "isolation_violations == 0" in cases["isolation"].find("failure").get("message")
    assert "close_1011 == 0" in cases["ws-1011-closes"].find("failure").get("message")
    assert cases["factory-creation-p99"].find("skipped") is not None
    assert suite.get("failures") == str(len(failed))


def test_strict_and_quiet(tmp_path: Path, make_run: MakeRun) -> None:
    done = gate_cli("--candidate", BASELINES / "canonical", "--out", tmp_path, "--quiet")
    assert done.returncode == 0
    assert done.stdout.strip().splitlines() == ["gate: PASS (score 1.00, exit 0)"]


# --- relative objectives on synthetic runs ----------------------------------------------


def test_slower_candidate_fails_the_relative_objective(make_run: MakeRun) -> None:
    slo = parse_slo(RELATIVE)
    base = load_group(make_run("blue", seed=1))
    cand = load_group(make_run("green", seed=2, shift_ms=150.0))  # golden path p95 ~ +50%
    verdict = judge(slo, cand, base, calibration=QUIET)
    assert outcomes(verdict)["golden-path-p95-vs-baseline"] == FAIL
    assert verdict.verdict == FAIL and verdict.exit_code == 1
    rel = verdict.results[0]
    assert rel.value is not None and rel.baseline_value is not None
    assert rel.value > rel.baseline_value * 1.1
    assert "worse" in rel.detail


def test_same_build_passes(make_run: MakeRun) -> None:
    verdict = judge(
        parse_slo(RELATIVE),
        load_group(make_run("b", seed=1)),
        load_group(make_run("g", seed=2)),
        calibration=QUIET,
    )
    assert outcomes(verdict)["golden-path-p95-vs-baseline"] == PASS
    assert verdict.verdict == PASS and verdict.exit_code == 0


def test_a_run_that_did_not_complete_fails_the_gate(make_run: MakeRun) -> None:
    """Same figures as a passing pair, but the candidate lost a Locust worker mid-run."""
    base, cand = make_run("b", seed=1), make_run("g", seed=2)
    meta = json.loads((cand / "meta.json").read_text())
    meta.update(end_reason="worker_lost", end_detail="1 of 2 Locust workers stopped reporting")
    (cand / "meta.json").write_text(json.dumps(meta))
    verdict = judge(parse_slo(RELATIVE), load_group(cand), load_group(base), calibration=QUIET)
    assert outcomes(verdict)["golden-path-p95-vs-baseline"] == PASS
    result = next(r for r in verdict.results if r.objective.name == "runs-completed")
    assert result.outcome == FAIL and "g: worker_lost (1 of 2 Locust workers" in result.detail
    assert verdict.verdict == FAIL and verdict.exit_code == 1


def test_a_run_without_end_reason_fails_the_gate(make_run: MakeRun) -> None:
    """No ``end_reason`` in meta.json: nobody vouches for its figures, as in report and compare."""
    base, cand = make_run("b", seed=1), make_run("g", seed=2)
    meta = json.loads((cand / "meta.json").read_text())
    del meta["end_reason"]
    (cand / "meta.json").write_text(json.dumps(meta))
    verdict = judge(parse_slo(RELATIVE), load_group(cand), load_group(base), calibration=QUIET)
    result = next(r for r in verdict.results if r.objective.name == "runs-completed")
    assert result.outcome == FAIL and "candidate g: missing" in result.detail, result.detail
    assert verdict.exit_code == 1, verdict.verdict


def test_tiny_significant_shift_does_not_fail(make_run: MakeRun) -> None:
    """+2% on 4,000 samples per side is significant, but below the 10% tolerance: pass."""
    slo = parse_slo(RELATIVE)
    base = load_group(make_run("b", seed=1, n=20000, sigma=0.05))
    cand = load_group(make_run("g", seed=2, n=20000, sigma=0.05, shift_ms=4.0))
    verdict = judge(slo, cand, base, calibration=QUIET)
    rel = verdict.results[0]
    assert rel.outcome == PASS, rel.detail
    assert rel.value > rel.baseline_value  # it did move


def test_shift_inside_the_warning_band_warns(make_run: MakeRun) -> None:
    """Repeated runs per side (as ``gate run`` makes) measure their spread: a narrow interval."""
    slo = parse_slo(RELATIVE)
    base = load_group([make_run(f"b{i}", seed=i, n=8000, sigma=0.05) for i in range(3)])
    cand = load_group(  # golden path p95 ~ +16%
        [make_run(f"g{i}", seed=10 + i, n=8000, sigma=0.05, shift_ms=30.0) for i in range(3)]
    )
    verdict = judge(slo, cand, base, calibration=QUIET)
    assert verdict.results[0].outcome == WARN, verdict.results[0].detail
    assert verdict.verdict == WARN and verdict.exit_code == 0
    strict = judge(slo, cand, base, strict=True, calibration=QUIET)
    assert strict.exit_code == 1


def test_a_relative_objective_fails_only_beyond_calibrated_noise(make_run: MakeRun) -> None:
    """The same +50% slower golden path, one run a side: on a machine whose runs of one build
    agree within 2% the gate fails it; where they differ by 30% the same figures could be
    noise, so the gate cannot fail it, and says how many more runs (trials) would decide."""
    slo = parse_slo(RELATIVE)
    base = load_group(make_run("b", seed=1, n=8000, sigma=0.05))
    cand = load_group(make_run("g", seed=2, n=8000, sigma=0.05, shift_ms=100.0))
    quiet = judge(slo, cand, base, calibration=QUIET).results[0]
    assert quiet.outcome == FAIL, quiet.detail
    noisy = judge(slo, cand, base, calibration=flat_calibration(0.3)).results[0]
    assert noisy.outcome == INCONC, noisy.detail
    assert noisy.more_runs is not None and noisy.more_runs >= 1
    assert noisy.value == quiet.value  # the same figures
    hint = judge(slo, cand, base, calibration=flat_calibration(0.3)).inconclusive_hint
    assert "more run(s) (trials) per side" in hint


def test_too_few_samples_is_inconclusive_and_says_how_many_more(
    make_run: MakeRun, tmp_path: Path
) -> None:
    slo_path = tmp_path / "rel.toml"
    slo_path.write_text(RELATIVE)
    base, cand = make_run("b", seed=1, n=150), make_run("g", seed=2, n=150)
    done = gate_cli("--candidate", cand, "--baseline", base, "--slo", slo_path, "--out", tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "inconclusive"
    assert "more samples per side" in verdict["inconclusive_hint"]
    assert "golden-path-p95-vs-baseline" in verdict["inconclusive_hint"]


def test_default_slo_judges_legacy_against_canonical(tmp_path: Path) -> None:
    done = gate_cli(
        "--candidate", BASELINES / "legacy", "--baseline", BASELINES / "canonical",
        "--out", tmp_path,
    )  # fmt: skip
    assert done.returncode == 1


# --- the verdict rule -------------------------------------------------------------------


def _obj(name: str, *, critical: bool = False, weight: float = 1.0) -> Objective:
    crit = parse_criterion("p95 < 1 s")
    return Objective(name, "p95", "golden_path", crit, critical=critical, weight=weight)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([("a", True, 1, PASS), ("b", False, 1, PASS)], PASS),
        ([("a", True, 1, PASS), ("b", False, 1, SKIP)], PASS),
        ([("a", True, 1, FAIL), ("b", False, 9, PASS)], FAIL),  # critical: whatever the score
        ([("a", False, 1, FAIL), ("b", False, 9, PASS)], WARN),  # score 0.9 >= 0.8
        ([("a", False, 3, FAIL), ("b", False, 7, PASS)], FAIL),  # score 0.7 < 0.8
        ([("a", False, 1, WARN), ("b", True, 3, PASS)], WARN),  # score 0.875
        ([("a", True, 1, INCONC), ("b", False, 1, PASS)], INCONC),
        ([("a", True, 1, INCONC), ("b", True, 1, FAIL)], FAIL),  # already decided
        ([("a", False, 1, SKIP)], INCONC),  # nothing judged
        ([("a", False, 1, INCONC), ("b", True, 9, PASS)], WARN),  # pass or warning: exit 0
    ],
)
def test_decide(spec: list[tuple[str, bool, float, str]], expected: str) -> None:
    results = [ObjectiveResult(_obj(n, critical=c, weight=w), out) for n, c, w, out in spec]
    verdict, _ = decide(results, 0.8)
    assert verdict == expected


def test_junit_escapes_and_counts() -> None:
    slo = load_slo()
    results = [
        ObjectiveResult(o, FAIL if i == 0 else PASS, value=1.0, detail='<&"x">')
        for i, o in enumerate(slo.objectives)
    ]
    verdict, score = decide(results, slo.min_score)
    from analysis.gate.judge import Verdict

    root = ET.fromstring(to_junit(Verdict(verdict, score, results)))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert len(list(suite.iter("testcase"))) == len(slo.objectives)
