"""Helpers for the SSOT audit's tests: source trees written under tmp, findings looked up."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ssotaudit import AuditReport, Finding, Kind

FIXTURE = Path(__file__).parents[1] / "fixtures" / "fragmented"
PATTERNS = ("*ExecutionEngineFactory",)
CANONICAL = "netra_backend.app.agents.supervisor.execution_engine_factory:ExecutionEngineFactory"
APP = "netra_backend.app"


def kinds_at(report: AuditReport, import_path: str) -> list[Kind]:
    return sorted(f.kind for f in report.findings if f.import_path == import_path)


def one(report: AuditReport, kind: Kind, import_path: str) -> Finding:
    [found] = [f for f in report.findings if f.kind is kind and f.import_path == import_path]
    return found


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


CANON_PKG = {
    "pkg/__init__.py": "",
    "pkg/canon.py": """
        class Factory:
            def create(self, ctx):
                return ctx

            def metrics(self):
                return {}


        def get_factory() -> "Factory":
            return Factory()
    """,
}
