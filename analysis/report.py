"""Render a comparison (or a single run's summary) as Markdown and HTML.

``report.md`` fits a GitHub pull-request comment: a headline, one compact
table, and the rest folded in ``<details>``. ``report.html`` is one
self-contained file: the same tables plus the plots as base64 PNGs.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import plots
from analysis.compare import BETTER, INCONCLUSIVE, MAX_MORE_RUNS, WORSE, Comparison, Verdict
from analysis.summarize import CLOSE_1011, Summary, qlabel
from analysis.summarize import QUANTILES as SUMMARY_QUANTILES
from resultsformat import FAILURE_KINDS
from resultsformat.backend import total as attribution_total
from resultsformat.meta import describe_end, end_reason, is_completed

Progress = Callable[[str], None]
Table = tuple[list[str], list[list[str]]]
# Verdicts are words, never emoji: they must read the same with no emoji font (a CI
# runner's browser, a printout), in report.md, report.html and verdict.json alike.
DEFECTS = ("isolation violations", f"{CLOSE_1011} closes", "dropped iterations")


# --- formatting ------------------------------------------------------------------------


def fmt_ms(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    return f"{x:.2f} ms" if abs(x) < 10 else f"{x:.1f} ms" if abs(x) < 1000 else f"{x:,.0f} ms"


def _num(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.2f}" if abs(x) < 10 else f"{x:,.1f}"


def fmt_pct(x: float, signed: bool = False) -> str:
    if not np.isfinite(x):
        return "–"
    return f"{x:+.1%}" if signed else f"{x:.2%}"


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "<1e-300" if p == 0 else f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def fmt_ci(est: float, lo: float, hi: float, f: Callable[[float], str] = _num) -> str:
    if not np.isfinite(est):
        return "–"

    def bound(v: float) -> str:
        return f(v) if np.isfinite(v) else "open"

    return f"{f(est)} [{bound(lo)}, {bound(hi)}]"


def _value(row: pd.Series, side: str) -> str:
    v = row[side]
    if row["unit"] == "ms":
        return fmt_ms(v)
    if row["unit"] == "rps":
        return "–" if not np.isfinite(v) else f"{v:,.1f}/s"
    if row["metric"] in DEFECTS:
        return f"{int(row[f'count_{side}'])} ({fmt_pct(v)})"
    return fmt_pct(v)


def _change(row: pd.Series) -> str:
    if row["unit"] == "rate":
        if not np.isfinite(row["diff"]) or row["baseline"] == row["candidate"] == 0:
            return "–"

        def pp(v: float) -> str:
            return f"{v * 100:+.2f}" if np.isfinite(v) else "open"

        return f"{pp(row['diff'])} pp [{pp(row['diff_lo'])}, {pp(row['diff_hi'])}]"
    if not np.isfinite(row["change"]):
        return "–"
    lo, hi = row["change_lo"], row["change_hi"]
    return f"{fmt_pct(row['change'], True)} [{fmt_pct(lo, True)}, {fmt_pct(hi, True)}]"


def _verdict(row: pd.Series) -> str:
    text = str(row["verdict"])
    if row["verdict"] != INCONCLUSIVE:
        return text
    runs, samples = row.get("more_runs", np.nan), row["more_samples"]
    if np.isfinite(runs) and runs >= MAX_MORE_RUNS:
        text += f" ({MAX_MORE_RUNS}+ more runs/side)"
    elif np.isfinite(runs) and runs > 0:
        text += f" (~{int(runs):,} more run{'s' if runs > 1 else ''}/side)"
    elif np.isfinite(samples) and samples > 0:
        text += f" (~{int(samples):,} more samples/side)"
    return text


def _noise(row: pd.Series) -> str:
    value, df = row.get("noise", np.nan), row.get("noise_df", np.nan)
    if not np.isfinite(value):
        return "–"
    text = f"phi {value:.1f}" if row["unit"] == "rate" else f"{value:.1%}"
    return f"{text} (df {int(df)})"


# --- tables ------------------------------------------------------------------------------


def compact_rows(c: Comparison) -> pd.DataFrame:
    """The rows worth a PR comment's main table."""
    m = c.metrics
    keep = (m["name"] == c.primary) & m["metric"].isin(["p50", "p95", "p99", "failure rate"])
    keep |= (m["section"] == "latency") & m["metric"].isin(["p50", "p99"])
    keep |= m["section"].isin(["throughput", "defects"])
    keep |= m["section"].isin(["failures", "failure kinds"]) & m["verdict"].isin([WORSE, BETTER])
    out = m[keep]
    first = out["name"] == c.primary
    return pd.concat([out[first], out[~first]])


def comparison_table(c: Comparison, rows: pd.DataFrame, full: bool = False) -> Table:
    ci = f"change [{c.thresholds.confidence:.0%} CI]"
    head = ["request", "metric", "baseline", "candidate", ci, "verdict"]
    if full:
        head += ["p", "run-to-run noise", "effect (IQR)", "n base", "n cand", "note"]
    body = []
    for _, r in rows.iterrows():
        line = [str(r["name"]), str(r["metric"]), _value(r, "baseline"), _value(r, "candidate")]
        line += [_change(r), _verdict(r)]
        if full:
            eff = r["effect_iqr"]
            line += [
                fmt_p(r["p_value"]),
                _noise(r),
                "–" if not np.isfinite(eff) else f"{eff:+.2f}",
            ]
            line += [f"{int(r['n_baseline']):,}", f"{int(r['n_candidate']):,}", str(r["note"])]
        body.append(line)
    return head, body


def summary_table(s: Summary) -> Table:
    conf = f"{s.confidence:.0%} CI"
    head = ["request", "requests", "throughput", f"p50 [{conf}]", "p90", "p95", "p99"]
    head += ["p99.9", "max", "failure rate"]
    body = []
    for name, r in s.latency.iterrows():
        line = [str(name), f"{int(r['requests']):,}", f"{r['throughput_rps']:,.1f}/s"]
        for q in SUMMARY_QUANTILES:
            lab = qlabel(q)
            if lab in r:
                line.append(fmt_ci(r[lab], r[f"{lab}_lo"], r[f"{lab}_hi"], fmt_ms))
        line += [fmt_ms(r["max"]), fmt_pct(r["failure_rate"])]
        body.append(line)
    return head, body


def failures_table(sides: Sequence[tuple[str, Summary]]) -> Table:
    """Agent runs by outcome and close code (the counting rule), then the defect totals."""
    kinds = [k for k in FAILURE_KINDS if any(s.failure_kinds.get(k, 0) for _, s in sides)]
    head = ["agent runs"] + [label for label, _ in sides]
    body = [["runs"] + [f"{s.runs_counted.runs:,}" for _, s in sides]]
    body += [
        [f"failed: {k}"] + [f"{int(s.failure_kinds.get(k, 0)):,}" for _, s in sides] for k in kinds
    ]
    body += [["interrupted by the end of the load"] + [f"{s.interrupted_runs:,}" for _, s in sides]]
    codes = sorted({int(k) for _, s in sides for k in s.close_codes.index})
    body += [
        [f"closed with {code}"] + [f"{int(s.close_codes.get(code, 0)):,}" for _, s in sides]
        for code in codes
    ]
    body += [["isolation violations"] + [f"{s.isolation_violations:,}" for _, s in sides]]
    body += [[f"{CLOSE_1011} closes"] + [f"{s.closes_1011:,}" for _, s in sides]]
    body += [["dropped iterations"] + [f"{s.dropped_iterations:,}" for _, s in sides]]
    # a legacy backend names the race behind each defect (its factory metrics)
    backends = [attribution_total(s.paths) for _, s in sides]
    if any(b is not None for b in backends):
        rows = [b.rows() if b is not None else None for b in backends]
        what = next(r for r in rows if r is not None)
        for i, (title, _) in enumerate(what):
            body.append([f"backend: {title}"] + [r[i][1] if r else "–" for r in rows])
    return head, body


def runs_table(sides: Sequence[tuple[str, Summary]]) -> Table:
    head = ["side", "run", "factory", "scenario", "users", "rows", "end", "warm-up cut"]
    body = []
    for label, s in sides:
        for meta, (run, cut) in zip(s.meta, s.warmup.items(), strict=True):
            scen = meta.get("scenario") or {}
            body.append(
                [
                    label,
                    run,
                    str(meta.get("factory_mode")),
                    f"{scen.get('name', '?')} ({scen.get('model', '?')})",
                    str(meta.get("users", "?")),
                    f"{int(meta.get('events_rows') or 0):,}",
                    end_reason(meta),
                    f"{cut.cut_s:.1f} s ({cut.rule})",
                ]
            )
    return head, body


def unfinished_runs(sides: Sequence[tuple[str, Summary]]) -> list[str]:
    """One warning per run whose ``end_reason`` is not ``completed``: its figures are partial."""
    lines = []
    for label, s in sides:
        for meta, run in zip(s.meta, s.warmup, strict=True):
            if not is_completed(meta):
                lines.append(f"{label} run {run} did not complete: {describe_end(meta)}")
    return lines


def as_frame(table: Table) -> pd.DataFrame:
    """A rendered table as a DataFrame (for notebooks)."""
    head, body = table
    return pd.DataFrame(body, columns=head)


def _defects_line(s: Summary, label: str) -> str:
    runs = s.runs_counted
    rate = runs.failed / runs.judged if runs.judged else float("nan")
    line = (
        f"**{label}**: {s.isolation_violations:,} isolation violations, {s.closes_1011:,} "
        f"{CLOSE_1011} closes, {s.dropped_iterations:,} dropped iterations; "
        f"{runs.failed:,} failed of {runs.judged:,} agent runs ({fmt_pct(rate)})"
    )
    if runs.interrupted:
        line += f", {runs.interrupted:,} interrupted by the end of the load"
    backend = attribution_total(s.paths)
    if backend is not None:  # a legacy backend names the race behind each defect
        line += "; the backend's attribution: " + "; ".join(backend.lines())
    if s.primary in s.latency.index:
        r = s.latency.loc[s.primary]
        line += f"; {s.primary} p50 {fmt_ms(r['p50'])}, p99 {fmt_ms(r['p99'])}"
    return line


def story(
    first: Summary, second: Summary | None = None, first_label: str = "", second_label: str = ""
) -> str:
    """The defect and latency story of one or two summaries, as Markdown bullets."""
    lines = [f"- {_defects_line(first, first_label or first.label)}"]
    if second is not None:
        lines.append(f"- {_defects_line(second, second_label or second.label)}")
    return "\n".join(lines)


def md_table(table: Table) -> str:
    head, body = table
    esc = lambda v: v.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(esc, row)) + " |" for row in body]
    return "\n".join(lines)


def html_table(table: Table) -> str:
    """An HTML table; a ``verdict`` column's cells are text badges."""
    head, body = table
    out = ["<table>", "<thead><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in head]
    out += ["</tr></thead>", "<tbody>"]
    verdicts = {i for i, h in enumerate(head) if h == "verdict"}
    for row in body:
        cells = "".join(
            f"<td>{badge(v) if i in verdicts else html.escape(v)}</td>" for i, v in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


# --- documents ---------------------------------------------------------------------------


def _describe(s: Summary) -> str:
    modes = ", ".join(s.factory_modes) or "unknown"
    return (
        f"`{s.label}`: {len(s.runs)} run(s), factory {modes}, {s.rows:,} rows analysed "
        f"of {s.rows_total:,}, {s.steady_s:,.0f} s steady"
    )


def method_text(c: Comparison | None, confidence: float) -> list[str]:
    lines = [
        "Percentiles are exact, from the raw event rows (linear interpolation), over "
        "successful requests after the warm-up cut; throughput is after the cut too. "
        "Failures, close codes and isolation violations are counted per agent run (its "
        "`response` row, moved by any `late_frame` row), over the whole run, warm-up "
        "included; runs interrupted by the end of the load are shown, not counted as "
        "failures. Dropped iterations count every row.",
        f"Percentile intervals ({confidence:.0%}) are distribution-free order-statistic "
        "(binomial) intervals; `open` means too few samples for that bound.",
        "Warm-up: MSER-5 (White 1997) on per-window mean latency and throughput, the later "
        "cut wins, kept only if the cut part differs from the rest by > 3 s.e.; or a fixed "
        "window (`--warmup SECONDS`).",
    ]
    if c is not None:
        th = c.thresholds
        lines += [
            "Run-to-run noise decides how sure a change is: rows of one run are not "
            "independent. It is measured, from each side's repeated runs pooled with a "
            f"calibration ({c.calibration.describe()}). A percentile's standard error is "
            "the larger of the run-to-run one (sd of the log between runs x sqrt(1/k_b + "
            f"1/k_c)) and the within-run one (exact bootstrap of the order statistic, "
            f"{th.bootstrap:,} draws); a rate's is the binomial one (Agresti-Caffo) times "
            "the square root of the measured dispersion phi. Tests and intervals use "
            "Student's t with the noise estimate's degrees of freedom. With one run per "
            "side and no calibration of a metric, that metric is inconclusive.",
            f"Worse/better needs significance (p < {th.alpha:g}/m = "
            f"{c.alpha_per_metric:.2g}, Bonferroni over the m metrics tested) and a "
            f"practical effect (|change| >= {th.min_rel_change:.0%}, >= "
            f"{th.min_effect_iqr:g} IQR and >= {th.min_abs_change_ms:g} ms for latency; "
            f"failure rates >= {th.min_rate_change * 100:g} pp). Negligible: significant "
            "but below the practical threshold. No detectable change: not significant, "
            "and the estimate is below the threshold. Inconclusive: not significant, but "
            "the change may be as large as the threshold; the table says about how many "
            "more runs per side would decide it (the standard error shrinks as "
            "1/sqrt(runs)). Isolation violations and 1011 closes are zero-tolerance: "
            "present on one side only is worse.",
        ]
    return lines


def render_markdown(result: Comparison | Summary, *, html_name: str | None = None) -> str:
    """GitHub-flavoured Markdown for a PR comment."""
    out: list[str] = []
    if isinstance(result, Comparison):
        c = result
        out.append("### goldenpath report")
        out.append("")
        verdict, _, rest = c.headline.partition(": ")
        out.append(f"**{verdict}**: {rest}")
        out.append("")
        warn = unfinished_runs([("baseline", c.baseline), ("candidate", c.candidate)])
        out += [f"> **Warning:** {w}" for w in warn] + ([""] if warn else [])
        out.append(f"- baseline {_describe(c.baseline)}")
        out.append(f"- candidate {_describe(c.candidate)}")
        out.append("")
        out.append(md_table(comparison_table(c, compact_rows(c))))
        out += ["", f"<details><summary>All metrics ({len(c.metrics)})</summary>", ""]
        out.append(md_table(comparison_table(c, c.metrics, full=True)))
        out += ["", "</details>", ""]
        sides = [("baseline", c.baseline), ("candidate", c.candidate)]
        out += ["<details><summary>Agent runs by outcome, close codes</summary>", ""]
        out.append(md_table(failures_table(sides)))
        out += ["", "</details>", ""]
        out += ["<details><summary>Runs, notes and method</summary>", ""]
        out.append(md_table(runs_table(sides)))
        out.append("")
        out += [f"- {n}" for n in c.notes]
        out += [f"- {n}" for n in method_text(c, c.thresholds.confidence)]
        out += ["", "</details>"]
    else:
        s = result
        out.append(f"### goldenpath report: run summary of `{s.label}`")
        out.append("")
        out.append(
            f"**{s.isolation_violations:,} isolation violations, {s.closes_1011:,} "
            f"{CLOSE_1011} closes, {s.dropped_iterations:,} dropped iterations**"
        )
        out.append("")
        warn = unfinished_runs([(s.label, s)])
        out += [f"> **Warning:** {w}" for w in warn] + ([""] if warn else [])
        out.append(f"- {_describe(s)}")
        out.append("")
        out.append(md_table(summary_table(s)))
        out += ["", "<details><summary>Agent runs by outcome, close codes</summary>", ""]
        out.append(md_table(failures_table([(s.label, s)])))
        out += ["", "</details>", "", "<details><summary>Runs and method</summary>", ""]
        out.append(md_table(runs_table([(s.label, s)])))
        out.append("")
        out += [f"- {n}" for n in method_text(None, s.confidence)]
        out += ["", "</details>"]
    if html_name:
        out += ["", f"Plots: `{html_name}` (self-contained HTML)."]
    return "\n".join(out) + "\n"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f3f3f3} img{max-width:100%;display:block;margin:1em 0}
.headline{font-size:1.15em;font-weight:600} details{margin:1em 0}
.warn{color:#9a3412;font-weight:600}
.badge{display:inline-block;padding:.05em .5em;border-radius:.8em;font-weight:600;
border:1px solid currentColor}
.badge.worse{color:#b91c1c;background:#fee2e2} .badge.better{color:#15803d;background:#dcfce7}
.badge.negligible,.badge.same{color:#374151;background:#f3f4f6}
.badge.inconclusive{color:#92400e;background:#fef3c7}
nav ol{columns:2;font-size:.9em} section{margin-top:1.5em}
@media print{
  body{max-width:none;margin:0;font-size:10pt} nav{display:none}
  a{color:inherit;text-decoration:none} section{break-inside:auto}
  h2{break-after:avoid} img,tr{break-inside:avoid} img{max-width:100%}
  table{font-size:8pt} .badge{background:none}
}
"""


def badge(verdict: str) -> str:
    """A verdict as an HTML text badge: readable with no emoji font, and in print."""
    css = {v.value: v.name.lower() for v in Verdict}.get(verdict.split(" (")[0], "same")
    return f'<span class="badge {css}">{html.escape(verdict)}</span>'


def _anchor(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def render_html(
    result: Comparison | Summary,
    *,
    progress: Progress | None = None,
) -> str:
    """One self-contained HTML page: the tables and every plot as a base64 PNG, a table of
    contents, alt text for every plot, and print styles (it is attached to PRs and printed)."""
    head: list[str] = []
    sections: list[tuple[str, str]] = []  # (title, html)
    if isinstance(result, Comparison):
        c = result
        title = f"goldenpath report: {c.verdict}"
        sides = [(f"baseline {c.baseline.label}", c.baseline)]
        sides += [(f"candidate {c.candidate.label}", c.candidate)]
        _, _, rest = c.headline.partition(": ")
        head.append(f'<p class="headline">{badge(c.verdict.value)} {html.escape(rest)}</p>')
        warn = unfinished_runs([("baseline", c.baseline), ("candidate", c.candidate)])
        head += [f'<p class="warn">Warning: {html.escape(w)}</p>' for w in warn]
        head.append(
            f"<ul><li>baseline {html.escape(_describe(c.baseline))}</li>"
            f"<li>candidate {html.escape(_describe(c.candidate))}</li></ul>"
        )
        sections.append(("Main figures", html_table(comparison_table(c, compact_rows(c)))))
        sections.append(("All metrics", html_table(comparison_table(c, c.metrics, full=True))))
        notes, method = c.notes, method_text(c, c.thresholds.confidence)
    else:
        s = result
        title = f"goldenpath report: run summary of {s.label}"
        sides = [(s.label, s)]
        head.append(f"<p>{html.escape(_describe(s))}</p>")
        head += [
            f'<p class="warn">Warning: {html.escape(w)}</p>'
            for w in unfinished_runs([(s.label, s)])
        ]
        sections.append(("Requests", html_table(summary_table(s))))
        notes, method = [], method_text(None, s.confidence)
    for caption, alt, fig_fn in _figure_jobs(sides):
        if progress:
            progress(f"plotting {caption.lower()}")
        img = plots.to_base64(fig_fn())
        sections.append(
            (caption, f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{img}">')
        )
    sections.append(("Agent runs by outcome, close codes", html_table(failures_table(sides))))
    sections.append(("Runs", html_table(runs_table(sides))))
    items = "".join(f"<li>{html.escape(n)}</li>" for n in [*notes, *method])
    sections.append(("Notes and method", f"<ul>{items}</ul>"))
    toc = "".join(f'<li><a href="#{_anchor(t)}">{html.escape(t)}</a></li>' for t, _ in sections)
    # the verdict is named once, in the headline's badge; the page title carries it too
    h1 = "goldenpath report" if isinstance(result, Comparison) else title
    body = [f"<h1>{html.escape(h1)}</h1>", *head]
    body.append(f'<nav aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>')
    body += [
        f'<section id="{_anchor(t)}"><h2>{html.escape(t)}</h2>{content}</section>'
        for t, content in sections
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _figure_jobs(sides: plots.Sides) -> list[tuple[str, str, Callable[[], Figure]]]:
    """(caption, alt text, plot) for each figure."""
    who = " and ".join(label for label, _ in sides)
    two = " (baseline dashed, candidate solid)" if len(sides) == 2 else ""
    return [
        ("Latency CDF", f"Cumulative share of successful requests by latency, per request "
         f"name, for {who}{two}.", lambda: plots.latency_cdf(sides)),
        ("Percentiles over time", f"p50, p95 and p99 latency per time window for {who}{two}; "
         "the warm-up cut is shaded.", lambda: plots.percentiles_over_time(sides)),
        ("Throughput over time", f"Requests per second per time window for {who}{two}.",
         lambda: plots.throughput_over_time(sides)),
        ("Failures by kind over time", f"Failed agent runs per kind, and failed logins and "
         f"connects, per time window for {who}{two}.",
         lambda: plots.failures_by_kind_over_time(sides)),
    ]  # fmt: skip


def write_report(
    result: Comparison | Summary,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(render_markdown(result, html_name=html_path.name), encoding="utf-8")
    html_path.write_text(render_html(result, progress=progress), encoding="utf-8")
    return md_path, html_path
