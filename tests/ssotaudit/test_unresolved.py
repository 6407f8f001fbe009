"""A class whose base the audit cannot follow statically is ``unresolved``, not a duplicate."""

from __future__ import annotations

from pathlib import Path

from ssotaudit import Kind, audit
from ssotaudit.render import render_markdown
from tests.utils.ssot import CANON_PKG, one, write_tree

DYNAMIC = {
    # a call: what it returns is known only at run time
    "pkg/by_call.py": """
        import importlib

        def base():
            return importlib.import_module("pkg.canon").Factory

        class CallFactory(base()):
            pass
    """,
    # getattr on a module
    "pkg/by_getattr.py": """
        import pkg.canon

        class GetattrFactory(getattr(pkg.canon, "Fac" + "tory")):
            pass
    """,
    # __import__
    "pkg/by_import.py": """
        class ImportFactory(__import__("pkg.canon", fromlist=["Factory"]).Factory):
            pass
    """,
    # a name bound to a call's result
    "pkg/by_name.py": """
        import importlib

        Base = getattr(importlib.import_module("pkg.canon"), "Factory")

        class NamedFactory(Base):
            pass
    """,
    # the dynamic base one class up, and a call-bound name imported from another module
    "pkg/indirect.py": """
        import pkg.canon

        class _Middle(getattr(pkg.canon, "Factory")):
            pass

        class IndirectFactory(_Middle):
            pass
    """,
    "pkg/imported.py": """
        from pkg.by_name import Base

        class ImportedFactory(Base):
            pass
    """,
    # an independent class behind a dynamic base: unresolved statically, a duplicate at run time
    "pkg/other.py": """
        def mixin():
            return object

        class OtherFactory(mixin()):
            def create(self, ctx):
                return ctx
    """,
}
SUBCLASSES = ["pkg.by_call:CallFactory", "pkg.by_getattr:GetattrFactory",
              "pkg.by_import:ImportFactory", "pkg.by_name:NamedFactory",
              "pkg.indirect:IndirectFactory", "pkg.imported:ImportedFactory"]  # fmt: skip


def test_dynamic_bases_are_unresolved_and_not_counted(tmp_path: Path) -> None:
    write_tree(tmp_path, CANON_PKG | DYNAMIC)
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    for path in [*SUBCLASSES, "pkg.other:OtherFactory"]:
        finding = one(report, Kind.UNRESOLVED, path)
        assert "cannot be resolved statically" in finding.detail, finding
    assert one(report, Kind.UNRESOLVED, "pkg.by_name:NamedFactory").detail.startswith("base Base ")
    assert (
        "getattr(pkg.canon, 'Fac' + 'tory')"
        in one(report, Kind.UNRESOLVED, "pkg.by_getattr:GetattrFactory").detail
    )
    assert report.duplicates == [] and report.passed, report.counts()
    assert (
        "_Middle (via getattr(pkg.canon, 'Factory'))"
        in one(report, Kind.UNRESOLVED, "pkg.indirect:IndirectFactory").detail
    )
    assert report.counts()["unresolved"] == 7
    assert "unresolved 7 (not counted)" in render_markdown(report)


def test_the_import_check_resolves_them(tmp_path: Path) -> None:
    write_tree(tmp_path, CANON_PKG | DYNAMIC)
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True)
    for path in SUBCLASSES:
        resolved = one(report, Kind.SUBCLASS, path)
        assert "at run time" in resolved.detail, resolved
        assert "a subclass of the canonical class" in resolved.detail, resolved
    other = one(report, Kind.DUPLICATE, "pkg.other:OtherFactory")
    assert "not derived from the canonical class" in other.detail, other
    assert report.of_kind(Kind.UNRESOLVED) == [] and not report.passed
