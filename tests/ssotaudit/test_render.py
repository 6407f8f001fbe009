"""Table, Markdown and JSON renderings of a report (render.py)."""

from __future__ import annotations

from ssotaudit import (
    AuditReport,
)
from ssotaudit.render import render_json, render_markdown, render_table, to_dict

# -- rendering --------------------------------------------------------------------------
from tests.utils.ssot import CANONICAL


def test_renderings(report: AuditReport) -> None:
    table = render_table(report)
    assert table.startswith(f"SSOT audit of {CANONICAL}: FAIL")
    assert "factory implementations: 6" in table
    assert "Test doubles (not counted):" in table
    assert "3 plain import(s)" in table

    data = to_dict(report)
    assert data["schema"] == "goldenpath.ssot/1"
    assert data["passed"] is False
    assert data["counts"]["duplicate"] == 5
    assert '"kind": "wrapper"' in render_json(report)

    md = render_markdown(report)
    assert md.startswith("### ❌ SSOT audit: 6 factory implementation(s)")
    assert "| Kind | Name | Import path | Location | Detail |" in md
    assert "<details><summary>Test doubles (4, not counted)</summary>" in md
