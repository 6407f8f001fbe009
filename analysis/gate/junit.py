"""JUnit XML of a gate verdict: one test case per objective, so any CI shows which failed.

``fail`` becomes ``<failure>``, ``skipped`` and ``inconclusive`` become
``<skipped>`` (with the reason), ``warning`` passes with the warning in
``<system-out>``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .outcomes import FAIL, INCONC, SKIP, WARN, Verdict, format_value

SUITE = "goldenpath-gate"


def to_junit(verdict: Verdict) -> str:
    """The verdict as a JUnit XML document (one ``testsuite``)."""
    results = verdict.results
    failures = sum(r.outcome == FAIL for r in results)
    skipped = sum(r.outcome in (SKIP, INCONC) for r in results)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    lines.append(
        f'<testsuites name={quoteattr(SUITE)} tests="{len(results)}" '
        f'failures="{failures}" errors="0" skipped="{skipped}">'
    )
    lines.append(
        f'  <testsuite name={quoteattr(SUITE)} tests="{len(results)}" '
        f'failures="{failures}" errors="0" skipped="{skipped}" time="0">'
    )
    props = {
        "verdict": verdict.verdict,
        "score": "" if verdict.score is None else f"{verdict.score:.4f}",
        "exit_code": str(verdict.exit_code),
        "slo": verdict.slo_source,
    }
    lines.append("    <properties>")
    for key, value in props.items():
        lines.append(f"      <property name={quoteattr(key)} value={quoteattr(value)}/>")
    lines.append("    </properties>")
    for r in results:
        o = r.objective
        d = r.to_dict()
        name = quoteattr(o.name)
        classname = quoteattr(f"{SUITE}.{o.request or 'all'}")
        message = f"{o.criterion.text}: value {format_value(r.value, o)}"
        if r.detail:
            message += f" ({r.detail})"
        body = escape(
            f"objective {o.name}: {o.criterion.text}"
            + (f" [request {o.request}]" if o.request else "")
            + f"\noutcome {r.outcome}, value {d['value']}, baseline {d['baseline_value']}"
            + f"\ncritical {str(o.critical).lower()}, weight {o.weight:g}"
            + (f"\n{o.description}" if o.description else "")
        )
        lines.append(f'    <testcase name={name} classname={classname} time="0">')
        if r.outcome == FAIL:
            lines.append(f'      <failure message={quoteattr(message)} type="slo">{body}</failure>')
        elif r.outcome in (SKIP, INCONC):
            lines.append(f"      <skipped message={quoteattr(f'{r.outcome}: {message}')}/>")
        elif r.outcome == WARN:
            lines.append(f"      <system-out>{escape('warning: ' + message)}</system-out>")
        lines.append("    </testcase>")
    lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"
