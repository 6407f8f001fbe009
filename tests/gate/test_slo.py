"""The SLO file: criteria, objectives, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.gate.slo import SloError, load_slo, parse_criterion, parse_slo
from tests.utils.gate import BASELINES, gate_cli

VALID = """\
[gate]
min_score = 0.7
warmup = "none"

[[objective]]
name = "latency"
request = "golden_path"
criterion = "p95 < 2 s"
warning = "< 3 s"
weight = 2
critical = true

[[objective]]
criterion = "failure_rate < 0.1%"
missing = "inconclusive"

[[objective]]
name = "vs-blue"
criterion = "p99 <= +10%"
"""


def test_default_slo_encodes_the_remediation_plan() -> None:
    slo = load_slo()
    by_metric = {o.metric: o for o in slo.objectives}
    assert by_metric["completion_rate"].criterion.threshold == pytest.approx(0.99)
    assert by_metric["ws_connect_success_rate"].criterion.threshold == pytest.approx(0.995)
    assert by_metric["failure_rate"].criterion.threshold == pytest.approx(0.001)
    assert by_metric["isolation_violations"].criterion.text == "isolation_violations == 0"
    assert by_metric["close_1011"].critical
    assert by_metric["factory_creation_p99_ms"].criterion.threshold == 25.0
    assert by_metric["active_engines_after"].criterion.threshold == 0
    assert any(o.relative for o in slo.objectives)


def test_valid_file_is_normalised() -> None:
    slo = parse_slo(VALID, "x.toml")
    assert slo.min_score == 0.7 and slo.warmup == "none"
    lat, err, rel = slo.objectives
    assert (lat.metric, lat.request, lat.criterion.threshold) == ("p95", "golden_path", 2000.0)
    assert lat.warning is not None and lat.warning.threshold == 3000.0
    assert lat.critical and lat.weight == 2 and lat.line == 5
    assert err.name == "failure_rate < 0.1%" and err.request is None
    assert err.missing == "inconclusive" and not err.critical
    assert rel.relative and rel.criterion.threshold == pytest.approx(0.10)
    assert rel.request == "golden_path"  # the default request of a percentile


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "relative"),
    [
        ("p95 < 200 ms", "p95", "<", 200.0, False),
        ("p99.9 <= 1.5 s", "p99.9", "<=", 1500.0, False),
        ("failure_rate < 0.1%", "failure_rate", "<", 0.001, False),
        ("completion_rate > 0.99", "completion_rate", ">", 0.99, False),
        ("isolation_violations == 0", "isolation_violations", "==", 0.0, False),
        ("p95 <= +10%", "p95", "<=", 0.10, True),
        ("throughput_rps >= 50", "throughput_rps", ">=", 50.0, False),
    ],
)
def test_criteria(text: str, metric: str, op: str, threshold: float, relative: bool) -> None:
    c = parse_criterion(text)
    assert (c.metric, c.op, c.relative) == (metric, op, relative)
    assert c.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[[objective]]\nname = "a"\ncriterion = "p95 < 200 ms\n', 3, "invalid TOML"),
        (
            '[[objective]]\ncriterion = "p95 < 1 s"\n\n[[objective]]\ncriterion = "lat < 1"\n',
            5,
            "unknown metric 'lat'",
        ),
        ('[[objective]]\nname = "a"\ncriterion = "p95 =< 200 ms"\n', 3, "unknown operator '=<'"),
        ('[[objective]]\ncriterion = "p95 != 200 ms"\n', 2, "unknown operator '!='"),
        ('[[objective]]\ncriterion = "p95 < 1 s"\nweight = 0\n', 3, "weight must be positive"),
        ('[[objective]]\ncriterion = "p95 < 1 s"\ncritical = "yes"\n', 3, "critical must be"),
        ('[[objective]]\ncriterion = "p95 < 1 s"\nmissing = "ignore"\n', 3, "missing must be"),
        ('[[objective]]\ncriterion = "p95 < 1 s"\ntreshold = 3\n', 3, "unknown key 'treshold'"),
        ('[[objective]]\ncriterion = "failure_rate <= +5%"\n', 2, "cannot be relative"),
        ('[[objective]]\ncriterion = "p95 < 5%"\n', 2, "is a latency"),
        ('[[objective]]\ncriterion = "failure_rate < 5 ms"\n', 2, "is a rate"),
        ('[[objective]]\nname = "x"\n', 1, "needs a criterion"),
        ("[gate]\nmin_score = 2\n[[objective]]\ncriterion = 'p95 < 1 s'\n", 2, "min_score"),
        ("[gate]\n", 0, "no objectives"),
        (
            '[[objective]]\nname = "a"\ncriterion = "p95 < 1 s"\n'
            '[[objective]]\nname = "a"\ncriterion = "p50 < 1 s"\n',
            5,
            "duplicate objective name",
        ),
        ('[[objective]]\ncriterion = "close_1011 == 0"\nrequest = "login"\n', 3, "takes no"),
        # a list is no metric name (a TypeError traceback before), nor a table an objective
        ('[[objective]]\ncriterion = "p95 < 1 s"\nmetric = [1]\n', 3, "unknown metric [1]"),
        ("objective = [1]\n", 1, "each [[objective]] must be a table"),
        ("[gate]\ndescription = 3\n[[objective]]\ncriterion = 'p95 < 1 s'\n", 2, "description"),
        # of several errors, the earliest in the file
        ('[[objective]]\nweight = 0\ncriterion = "lat < 1"\n', 2, "weight must be positive"),
        ('[[objective]]\ncriterion = "lat < 1"\n[[objective]]\nfoo = 1\n', 2, "unknown metric"),
        # an error with no line of its own (no objectives at all) comes after those with one
        ("[gate]\nmin_score = 2\n", 2, "min_score"),
        # a metric that fails is the error, not the criterion read without it
        ('[[objective]]\ncriterion = "< 200 ms"\nmetric = "p96"\n', 3, "unknown metric 'p96'"),
        # a name given twice, found with the other errors
        (
            '[[objective]]\nname = "a"\ncriterion = "p95 < 1 s"\n[[objective]]\nname = "a"\n'
            'criterion = "p95 < 1 s"\n[[objective]]\ncriterion = "p95 < 1 s"\nweight = true\n',
            5,
            "duplicate objective name 'a'",
        ),
        # an empty name is no name (each gets one made from its criterion): not a duplicate
        (
            '[[objective]]\nname = ""\ncriterion = "p95 < 1 s"\n[[objective]]\nname = ""\n'
            'criterion = "p50 < 1 s"\nweight = 0\n',
            7,
            "weight must be positive",
        ),
    ],
)
def test_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(SloError) as info:
        parse_slo(text, "slo.toml")
    assert info.value.line == line, str(info.value)
    words = reason.replace("must be positive", "must be a positive")
    assert words in str(info.value)
    assert str(info.value).startswith(f"slo.toml:{line}: " if line else "slo.toml: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[gate]\nmin_score = 0.8\n\n[[objective]]\ncriterion = "p95 < 2 s\n', ":5: invalid TOML"),
        ('[[objective]]\ncriterion = "p95 < 1 s"\n[[objective]]\ncriterion = "x < 1"\n', ":4:"),
        ('[[objective]]\ncriterion = "p95 => 200 ms"\n', ":2: unknown operator '=>'"),
    ],
)
def test_cli_exits_2_with_one_line(slo_file, text: str, expected: str, tmp_path: Path) -> None:
    path = slo_file(text)
    done = gate_cli("--candidate", BASELINES / "canonical", "--slo", path, "--out", tmp_path / "o")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"goldenpath gate: error: {path}")
    assert expected in lines[0]
    assert "Traceback" not in done.stderr
