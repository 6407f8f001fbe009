"""Render a comparison (or a single run's summary) as Markdown and HTML.

``report.md`` fits a GitHub pull-request comment: a headline, one compact
table, and the rest folded in ``<details>``. ``report.html`` is one
self-contained file: the same tables plus the plots as base64 PNGs.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from analysis import plots
from analysis.compare import Comparison, Verdict
from analysis.summary import CLOSE_1011, Summary
from analysis.tables import (  # re-exported: the notebooks use them as report.*
    DEFECTS,
    Table,
    as_frame,
    badge,
    compact_rows,
    comparison_table,
    failures_table,
    fmt_ci,
    fmt_ms,
    fmt_p,
    fmt_pct,
    html_table,
    md_table,
    runs_table,
    story,
    summary_table,
    unfinished_runs,
)

Progress = Callable[[str], None]


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


@dataclass(frozen=True)
class Section:
    """One part of a report: a table, a list or a plot, under a title.

    ``fold``: how report.md shows it: ``OPEN`` (in the comment itself), a ``<details>``
    summary that starts a folded block, ``JOIN`` (into the block above) or ``HTML_ONLY``
    (the plots: report.md points at report.html)."""

    title: str
    table: Table | None = None
    items: tuple[str, ...] = ()
    figure: tuple[str, Callable[[], Figure]] | None = None  # alt text, the plot
    fold: str = ""
    md_table: Table | None = None  # report.md's, where it is more compact than the page's


OPEN, JOIN, HTML_ONLY = "", "\x00join", "\x00html"


@dataclass(frozen=True)
class Document:
    """A report, built once (``document``) and rendered twice (Markdown and HTML)."""

    title: str  # the HTML page's title
    md_title: str
    lead: str  # report.md's bold first line
    verdict: Verdict | None  # a comparison's (the HTML badge), None for a summary
    headline: str  # the headline after the verdict
    warnings: tuple[str, ...]
    describes: tuple[str, ...]
    sections: tuple[Section, ...]


def document(result: Comparison | Summary) -> Document:
    """What a report says, in order: the same for report.md and report.html."""
    if isinstance(result, Comparison):
        c = result
        sides = [(f"baseline {c.baseline.label}", c.baseline)]
        sides += [(f"candidate {c.candidate.label}", c.candidate)]
        verdict, _, rest = c.headline.partition(": ")
        first: list[Section] = [
            Section("Main figures", comparison_table(c, compact_rows(c))),
            Section("All metrics", comparison_table(c, c.metrics, full=True),
                    fold=f"All metrics ({len(c.metrics)})"),
        ]  # fmt: skip
        warn = unfinished_runs([("baseline", c.baseline), ("candidate", c.candidate)])
        notes = [*c.notes, *method_text(c, c.thresholds.confidence)]
        runs_fold = "Runs, notes and method"
        title, md_title = f"goldenpath report: {c.verdict}", "### goldenpath report"
        lead, the_verdict, headline = f"**{verdict}**: {rest}", c.verdict, rest
        describes: tuple[str, ...] = (
            f"baseline {_describe(c.baseline)}",
            f"candidate {_describe(c.candidate)}",
        )
    else:
        s = result
        sides = [(s.label, s)]
        first = [Section("Requests", summary_table(s))]
        warn = unfinished_runs([(s.label, s)])
        notes = method_text(None, s.confidence)
        runs_fold = "Runs and method"
        title = f"goldenpath report: run summary of {s.label}"
        md_title = f"### goldenpath report: run summary of `{s.label}`"
        lead = (
            f"**{s.isolation_violations:,} isolation violations, {s.closes_1011:,} "
            f"{CLOSE_1011} closes, {s.dropped_iterations:,} dropped iterations**"
        )
        the_verdict, headline, describes = None, "", (_describe(s),)
    # report.md names the sides "baseline" and "candidate"; the page adds their labels
    short = [(label.split(" ")[0], x) for label, x in sides] if len(sides) == 2 else sides
    figures = [
        Section(caption, figure=(alt, plot), fold=HTML_ONLY)
        for caption, alt, plot in _figure_jobs(sides)
    ]
    rest_sections = [
        Section("Agent runs by outcome, close codes", failures_table(sides),
                fold="Agent runs by outcome, close codes", md_table=failures_table(short)),
        Section("Runs", runs_table(sides), fold=runs_fold, md_table=runs_table(short)),
        Section("Notes and method", items=tuple(notes), fold=JOIN),
    ]  # fmt: skip
    return Document(
        title=title, md_title=md_title, lead=lead, verdict=the_verdict, headline=headline,
        warnings=tuple(warn), describes=describes, sections=(*first, *figures, *rest_sections),
    )  # fmt: skip


def render_markdown(result: Comparison | Summary, *, html_name: str | None = None) -> str:
    """GitHub-flavoured Markdown for a PR comment."""
    doc = document(result)
    out = [doc.md_title, "", doc.lead, ""]
    out += [f"> **Warning:** {w}" for w in doc.warnings] + ([""] if doc.warnings else [])
    out += [f"- {d}" for d in doc.describes] + [""]
    open_block = False
    for sec in doc.sections:
        if sec.fold == HTML_ONLY:
            continue
        table = sec.md_table or sec.table
        body = md_table(table) if table is not None else "\n".join(f"- {n}" for n in sec.items)
        if sec.fold == OPEN:
            out.append(body)
            continue
        if sec.fold == JOIN:
            out += ["", body]
            continue
        if open_block:
            out += ["", "</details>"]
        out += ["", f"<details><summary>{sec.fold}</summary>", "", body]
        open_block = True
    if open_block:
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


def _anchor(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def render_html(
    result: Comparison | Summary,
    *,
    progress: Progress | None = None,
) -> str:
    """One self-contained HTML page: the tables and every plot as a base64 PNG, a table of
    contents, alt text for every plot, and print styles (it is attached to PRs and printed)."""
    doc = document(result)
    warn = [f'<p class="warn">Warning: {html.escape(w)}</p>' for w in doc.warnings]
    if doc.verdict is not None:
        head = [f'<p class="headline">{badge(doc.verdict.value)} {html.escape(doc.headline)}</p>']
        items = "".join(f"<li>{html.escape(d)}</li>" for d in doc.describes)
        head += [*warn, f"<ul>{items}</ul>"]
    else:
        head = [f"<p>{html.escape(doc.describes[0])}</p>", *warn]
    sections: list[tuple[str, str]] = []  # (title, html)
    for sec in doc.sections:
        if sec.figure is not None:
            alt, plot = sec.figure
            if progress:
                progress(f"plotting {sec.title.lower()}")
            img = plots.to_base64(plot())
            content = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{img}">'
        elif sec.table is not None:
            content = html_table(sec.table)
        else:
            content = "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in sec.items) + "</ul>"
        sections.append((sec.title, content))
    toc = "".join(f'<li><a href="#{_anchor(t)}">{html.escape(t)}</a></li>' for t, _ in sections)
    # the verdict is named once, in the headline's badge; the page title carries it too
    h1 = "goldenpath report" if doc.verdict is not None else doc.title
    body = [f"<h1>{html.escape(h1)}</h1>", *head]
    body.append(f'<nav aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>')
    body += [
        f'<section id="{_anchor(t)}"><h2>{html.escape(t)}</h2>{content}</section>'
        for t, content in sections
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head>\n"
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


__all__ = [
    "DEFECTS", "Document", "Section", "Table", "as_frame", "badge", "compact_rows",
    "comparison_table", "document", "failures_table", "fmt_ci", "fmt_ms", "fmt_p", "fmt_pct",
    "html_table", "md_table", "render_html", "render_markdown", "runs_table", "story",
    "summary_table", "unfinished_runs", "write_report",
]  # fmt: skip
