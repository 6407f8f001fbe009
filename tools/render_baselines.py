"""Render the README's baseline section from the committed runs in ``results/baselines``.

    python tools/render_baselines.py            # print the section
    python tools/render_baselines.py --write    # replace it in README.md
    python tools/render_baselines.py --check    # exit 1 if README.md differs (a test runs this)

The section sits between two markers in README.md, so every figure in it comes
from the files, with the same code the report and the gate use (the
calibration shipped with goldenpath): it cannot drift from them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "results" / "baselines"
README = ROOT / "README.md"
BEGIN = "<!-- baselines:begin (tools/render_baselines.py writes this section) -->"
END = "<!-- baselines:end -->"


def _engines(group: Any) -> str:
    left = []
    for run in group.runs:
        path = Path(run.path) / "factory_metrics_after.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        left.append(str(data.get("active_engines_count", "?")))
    return ", ".join(left)


def render() -> str:
    from analysis.compare import compare
    from analysis.gate.judge import judge
    from analysis.gate.slo import load_slo
    from analysis.load import load_group
    from analysis.report import fmt_ms, fmt_pct
    from analysis.summarize import summarize

    groups = {mode: load_group(BASELINES / mode) for mode in ("legacy", "canonical")}
    s = {mode: summarize(g) for mode, g in groups.items()}
    c = compare(s["legacy"], s["canonical"])
    leg, can = s["legacy"], s["canonical"]

    def verdict(name: str, metric: str, detail: bool = False) -> str:
        row = c.metric(name, metric)
        if not detail or row["unit"] == "rate":
            return str(row["verdict"])
        interval = f"[{row['change_lo']:+.1%}, {row['change_hi']:+.1%}]"
        return f"{row['verdict']} ({row['change']:+.1%} {interval})"

    def ms(summary: Any, name: str, q: str) -> str:
        return fmt_ms(float(summary.latency.loc[name, q]))

    gp = "golden_path"
    fail = lambda x: fmt_pct(float(x.latency.loc[gp, "failure_rate"]))  # noqa: E731
    rows = [
        ("golden-path failure rate", fail(leg), fail(can), verdict(gp, "failure rate")),
        ("agent runs with isolation violations (another user's data)",
         f"{leg.isolation_violations:,}", f"{can.isolation_violations:,}",
         verdict("all", "isolation violations")),
        ("agent runs whose socket closed with 1011", f"{leg.closes_1011:,}",
         f"{can.closes_1011:,}", verdict("all", "1011 closes")),
        ("agent runs interrupted by the end of the load (not failures)",
         f"{leg.interrupted_runs:,}", f"{can.interrupted_runs:,}", ""),
        ("dropped iterations (no free user at the scheduled start)",
         f"{leg.dropped_iterations:,}", f"{can.dropped_iterations:,}", ""),
        ("golden_path p50", ms(leg, gp, "p50"), ms(can, gp, "p50"), verdict(gp, "p50", True)),
        ("golden_path p99", ms(leg, gp, "p99"), ms(can, gp, "p99"), verdict(gp, "p99", True)),
        ("response p50", ms(leg, "response", "p50"), ms(can, "response", "p50"),
         verdict("response", "p50", True)),
        ("engines left active after the run (`factory_metrics_after.json`)",
         _engines(groups["legacy"]), _engines(groups["canonical"]), ""),
    ]  # fmt: skip
    meta = groups["canonical"].runs[0].meta
    scen = meta.get("scenario") or {}
    lines = [
        BEGIN,
        f"`results/baselines/{{legacy,canonical}}/run-{{1..{len(groups['canonical'].runs)}}}` "
        f"are real runs of the reference backend on this 2-core machine, "
        f"{meta.get('duration_s', 0):g} s each, recorded by `make baselines` with the current "
        f"harness (schema version {meta.get('schema_version')}; Locust's HTML report and the "
        f"backend log are left out). The scenario is the demo's: {scen.get('model')} model, "
        f"{scen.get('rate'):g}/s, {meta.get('users')} users, a 50 ms model, runs interleaved "
        "legacy, canonical, legacy, ...",
        "",
        "From `goldenpath report --baseline results/baselines/legacy --candidate "
        "results/baselines/canonical`:",
        "",
        "| | legacy (before) | canonical (after) | verdict |",
        "| --- | ---: | ---: | --- |",
        *[f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows],
        "",
        f"Headline: **{c.headline}**",
        "",
    ]
    lines.append(
        "Runs of one build against each other, as `goldenpath report --baseline RUN-A "
        "--candidate RUN-B` judges each ordered pair (one run a side, the calibration shipped "
        "with goldenpath):"
    )
    lines.append("")
    for mode, group in groups.items():
        verdicts: dict[str, int] = {}
        for a, b in itertools.permutations(group.runs, 2):
            v = compare(summarize(a), summarize(b)).verdict.value
            verdicts[v] = verdicts.get(v, 0) + 1
        n = sum(verdicts.values())
        alarms = verdicts.get("worse", 0) + verdicts.get("better", 0)
        listed = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        lines.append(f"- {mode}: {alarms} of {n} headlines say worse or better ({listed})")
    lines.append("")
    slo = load_slo(None)
    for mode, group in groups.items():
        v = judge(slo, group)
        failing = ", ".join(
            f"`{r.objective.name}` ({_value(r)})" for r in v.results if r.outcome == "fail"
        )
        line = f"- `goldenpath gate --candidate results/baselines/{mode}`: {v.verdict}, exit "
        line += f"{v.exit_code}" + (f"; failing {failing}" if failing else "")
        lines.append(line)
    lines += ["", END]
    return "\n".join(lines)


def _value(result: Any) -> str:
    from analysis.gate.judge import format_value

    return format_value(result.value, result.objective)


def section(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} section")
    return text[start : end + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="replace the section in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rendered = render()
    readme = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(readme.replace(section(readme), rendered), encoding="utf-8")
        print(f"wrote the baseline section of {README}")
    elif args.check:
        if section(readme) != rendered:
            print(
                "README.md's baseline section differs from the committed runs; run "
                "python tools/render_baselines.py --write",
                file=sys.stderr,
            )
            return 1
    else:
        print(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
