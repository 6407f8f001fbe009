"""Each verdict word means one thing, and reads the same in report.md, report.html and
verdict.json (text, never emoji: a CI runner's browser may have no emoji font)."""

from __future__ import annotations

import json
import re

import pytest

from analysis.calibration import Calibration
from analysis.compare import Verdict, compare
from analysis.gate.judge import judge
from analysis.gate.slo import parse_slo
from analysis.load import load_group
from analysis.report import render_html, render_markdown
from tests.utils.synth import MakeRun, flat_calibration

SLO = """\
[gate]
warmup = "none"

[[objective]]
name = "golden-path-p50-vs-baseline"
request = "golden_path"
criterion = "p50 <= +5%"
"""
EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")

# (base params, candidate params, calibration, the golden_path p50 verdict)
CASES = {
    "worse": ({}, {"shift_ms": 40.0}, flat_calibration(0.02), Verdict.WORSE),
    "better": ({"shift_ms": 40.0}, {}, flat_calibration(0.02), Verdict.BETTER),
    "negligible": (
        {"n": 40000},
        {"n": 40000, "shift_ms": 2.0},
        flat_calibration(0.002, df=50),
        Verdict.NEGLIGIBLE,
    ),
    "no detectable change": ({}, {}, flat_calibration(0.005, df=50), Verdict.SAME),
    "inconclusive": ({}, {"shift_ms": 40.0}, flat_calibration(0.3), Verdict.INCONCLUSIVE),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_verdict_reads_the_same_in_markdown_html_and_json(
    make_run: MakeRun, case: str
) -> None:
    base_kw, cand_kw, cal, expected = CASES[case]
    common = {"n": 8000, "sigma": 0.1}
    base = load_group(make_run("base", seed=1, **{**common, **base_kw}))
    cand = load_group(make_run("cand", seed=2, **{**common, **cand_kw}))
    c = compare(base, cand, calibration=cal, warmup="none")
    row = c.metric("golden_path", "p50")
    assert row["verdict"] == expected, (row["verdict"], row["note"], c.headline)
    word = expected.value
    if expected in (Verdict.WORSE, Verdict.BETTER):
        assert c.verdict == expected
    # report.md: the metric's row says the word, the headline its verdict once, in bold
    md = render_markdown(c)
    assert re.search(rf"^\| golden_path \| p50 \|.*\| {re.escape(word)}( \(~.*\))? \|$", md, re.M)
    assert f"**{c.verdict.value.capitalize()}**:" in md
    # report.html: the same words, as text badges
    page = render_html(c)
    assert re.search(rf'<span class="badge [a-z]+">{re.escape(word)}', page)
    assert f'<span class="badge {c.verdict.name.lower()}">{c.verdict.value}</span>' in page
    for text in (md, page):
        assert not EMOJI.search(text), EMOJI.findall(text)
    # verdict.json: the gate's relative objective and the comparison, in the same words
    verdict = json.loads(judge(parse_slo(SLO), cand, base, calibration=cal).to_json())
    assert verdict["comparison"]["verdict"] == c.verdict.value
    assert verdict["comparison"]["headline"] == c.headline
    detail = verdict["objectives"][0]["detail"]
    assert f", {word}" in detail, detail


def test_the_calibration_in_use_is_named_in_every_output(make_run: MakeRun) -> None:
    base = load_group(make_run("base", seed=1))
    cand = load_group(make_run("cand", seed=2))
    shipped = compare(base, cand)
    assert "shipped with goldenpath" in " ".join(shipped.notes)
    none = compare(base, cand, calibration=Calibration())
    assert "no calibration" in " ".join(none.notes)
    verdict = json.loads(judge(parse_slo(SLO), cand, base).to_json())
    assert "shipped with goldenpath" in verdict["comparison"]["calibration"]
