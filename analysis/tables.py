"""The report's tables and their formatting: every number as report.md, report.html and
the notebooks show it (``Table``: headers and rows of strings)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from analysis.compare import BETTER, INCONCLUSIVE, MAX_MORE_RUNS, WORSE, Comparison, Verdict
from analysis.quantiles import qlabel
from analysis.summarize import QUANTILES as SUMMARY_QUANTILES
from analysis.summary import CLOSE_1011, Summary
from resultsformat import FAILURE_KINDS
from resultsformat.backend import total as attribution_total
from resultsformat.meta import describe_end, end_reason, is_completed

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


def badge(verdict: str) -> str:
    """A verdict as an HTML text badge: readable with no emoji font, and in print."""
    css = {v.value: v.name.lower() for v in Verdict}.get(verdict.split(" (")[0], "same")
    return f'<span class="badge {css}">{html.escape(verdict)}</span>'
