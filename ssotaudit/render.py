"""Render an AuditReport as a terminal table, JSON, or Markdown for a PR comment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ssotaudit.model import AuditReport, FactoryFunction, Finding, Kind

__all__ = ["SCHEMA", "render_json", "render_markdown", "render_table", "to_dict"]

SCHEMA = "goldenpath.ssot/1"


def _verdict(report: AuditReport) -> str:
    return "PASS" if report.passed else "FAIL"


def _summary(report: AuditReport) -> str:
    c = report.counts()
    return (
        f"factory implementations: {c['implementations']} "
        f"(canonical {c['canonical']} + independent duplicates {c['duplicate']}, "
        f"allowed {report.max_duplicates}); aliases {c['alias']}, wrappers {c['wrapper']}, "
        f"subclasses {c['subclass']}, unresolved {c['unresolved']}, "
        f"test doubles {c['test_double']}, "
        f"factory functions {c['functions']}; {report.files_scanned} files in "
        f"{report.elapsed_s:.2f} s"
    )


def _detail(f: Finding) -> str:
    parts = [f.detail] if f.detail else []
    if f.conditional:
        parts.append("conditional definition")
    if f.reachable_at:
        parts.append(f"also reachable at {', '.join(f.reachable_at)}")
    if f.import_check is not None:
        check = f.import_check
        parts.append(
            f"import check: {check.status}" + (f" ({check.detail})" if check.detail else "")
        )
    return "; ".join(parts)


def _function_uses(fn: FactoryFunction) -> str:
    if fn.returns_canonical:
        return "returns canonical"
    if fn.calls_canonical:
        return "calls canonical"
    return "no (independent)"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # The last column is free text: no padding, no width.
    widths[-1] = 0

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [
        line(headers),
        line(["-" * max(w, len(h)) for w, h in zip(widths, headers, strict=True)]),
    ] + [line(r) for r in rows]


def _listed(report: AuditReport) -> tuple[list[Finding], list[Finding]]:
    """Findings for the main table, and the plain consumer imports summarized below it."""
    main = [f for f in report.findings if f.kind is not Kind.TEST_DOUBLE and not f.plain_import]
    plain = [f for f in report.findings if f.plain_import]
    return main, plain


def _plain_line(plain: Sequence[Finding]) -> str:
    bad = [f for f in plain if f.import_check is not None and f.import_check.status != "confirmed"]
    line = (
        f"{len(plain)} plain import(s) of the canonical class in other modules resolve to it "
        f"(listed in --json)"
    )
    if bad:
        line += f"; import check not confirmed for: {', '.join(f.import_path for f in bad)}"
    return line


def render_table(report: AuditReport) -> str:
    """Plain-text report for a terminal."""
    out = [f"SSOT audit of {report.canonical}: {_verdict(report)}", _summary(report), ""]
    main, plain = _listed(report)
    headers = ("KIND", "NAME", "IMPORT PATH", "LOCATION", "DETAIL")
    if main:
        out += _table(
            headers, [(f.kind.value, f.name, f.import_path, f.location, _detail(f)) for f in main]
        )
    if plain:
        out += ["", _plain_line(plain)]
    doubles = report.of_kind(Kind.TEST_DOUBLE)
    if doubles:
        out += ["", "Test doubles (not counted):"]
        out += _table(
            headers,
            [(f.kind.value, f.name, f.import_path, f.location, _detail(f)) for f in doubles],
        )
    if report.functions:
        out += ["", "Module-level factory functions:"]
        out += _table(
            ("NAME", "IMPORT PATH", "LOCATION", "USES CANONICAL"),
            [
                (
                    f.name,
                    f.import_path,
                    f.location,
                    _function_uses(f) + (" [test]" if f.in_tests else ""),
                )
                for f in report.functions
            ],
        )
    if report.warnings:
        out += ["", "Warnings:"] + [f"  {w}" for w in report.warnings]
    return "\n".join(out) + "\n"


def to_dict(report: AuditReport) -> dict[str, Any]:
    """The report as plain data (the ``--json`` shape)."""
    return {
        "schema": SCHEMA,
        "canonical": report.canonical,
        "patterns": list(report.patterns),
        "function_patterns": list(report.function_patterns),
        "passed": report.passed,
        "max_duplicates": report.max_duplicates,
        "counts": report.counts(),
        "files_scanned": report.files_scanned,
        "elapsed_s": round(report.elapsed_s, 4),
        "import_checked": report.import_checked,
        "findings": [
            {
                "kind": f.kind.value,
                "name": f.name,
                "module": f.module,
                "import_path": f.import_path,
                "path": f.path,
                "line": f.line,
                "conditional": f.conditional,
                "detail": f.detail,
                "non_forwarding": list(f.non_forwarding),
                "reachable_at": list(f.reachable_at),
                "plain_import": f.plain_import,
                "import_check": (
                    None
                    if f.import_check is None
                    else {"status": f.import_check.status, "detail": f.import_check.detail}
                ),
            }
            for f in report.findings
        ],
        "functions": [
            {
                "name": f.name,
                "module": f.module,
                "import_path": f.import_path,
                "path": f.path,
                "line": f.line,
                "returns_canonical": f.returns_canonical,
                "calls_canonical": f.calls_canonical,
                "in_tests": f.in_tests,
            }
            for f in report.functions
        ],
        "warnings": [
            {"path": w.path, "line": w.line, "message": w.message} for w in report.warnings
        ],
    }


def render_json(report: AuditReport) -> str:
    """The report as indented JSON."""
    return json.dumps(to_dict(report), indent=2) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return out


def _md_rows(findings: Sequence[Finding]) -> list[tuple[str, str, str, str, str]]:
    return [
        (f.kind.value, f"`{f.name}`", f"`{f.import_path}`", f"`{f.location}`", _detail(f))
        for f in findings
    ]


def render_markdown(report: AuditReport) -> str:
    """GitHub-flavoured Markdown for a pull-request comment."""
    mark = "✅" if report.passed else "❌"
    c = report.counts()
    out = [
        f"### {mark} SSOT audit: {c['implementations']} factory implementation(s) "
        f"of `{report.canonical}` ({_verdict(report)})",
        "",
        f"- Independent duplicates: **{c['duplicate']}** (allowed: {report.max_duplicates})",
        f"- Aliases {c['alias']}, delegating wrappers {c['wrapper']}, subclasses {c['subclass']}, "
        f"unresolved {c['unresolved']} (not counted), test doubles {c['test_double']}, "
        f"factory functions {c['functions']}",
        f"- {report.files_scanned} files scanned in {report.elapsed_s:.2f} s",
        "",
    ]
    headers = ("Kind", "Name", "Import path", "Location", "Detail")
    main, plain = _listed(report)
    out += _md_table(headers, _md_rows(main))
    if plain:
        out += ["", _md(_plain_line(plain))]
    doubles = report.of_kind(Kind.TEST_DOUBLE)
    if doubles:
        out += ["", f"<details><summary>Test doubles ({len(doubles)}, not counted)</summary>", ""]
        out += _md_table(headers, _md_rows(doubles)) + ["", "</details>"]
    if report.functions:
        out += ["", f"<details><summary>Factory functions ({len(report.functions)})</summary>", ""]
        out += _md_table(
            ("Name", "Import path", "Location", "Uses canonical"),
            [
                (
                    f"`{f.name}`",
                    f"`{f.import_path}`",
                    f"`{f.location}`",
                    _function_uses(f) + (" (test)" if f.in_tests else ""),
                )
                for f in report.functions
            ],
        )
        out += ["", "</details>"]
    if report.warnings:
        out += ["", "**Warnings**", ""] + [f"- `{_md(str(w))}`" for w in report.warnings]
    return "\n".join(out) + "\n"
