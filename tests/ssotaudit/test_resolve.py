"""Resolution of imports, aliases and bases on small trees (resolve.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssotaudit import (
    Kind,
    audit,
)
from ssotaudit.discover import is_test_path
from tests.utils.ssot import CANON_PKG, kinds_at, one, write_tree

# -- resolution and classification on small trees ------------------------------------


def test_relative_star_and_dotted_imports(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/sub/__init__.py": "from ..canon import *\n",
            "pkg/sub/deep/__init__.py": "",
            "pkg/sub/deep/mod.py": """
                import pkg.canon
                from ... import canon as c
                from .. import Factory as StarFactory
                DottedFactory = pkg.canon.Factory
                ModuleAttrFactory = c.Factory
                ChainFactory = DottedFactory
            """,
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    aliases = {f.import_path for f in report.of_kind(Kind.ALIAS)}
    assert aliases == {
        "pkg.sub.deep.mod:StarFactory",
        "pkg.sub.deep.mod:DottedFactory",
        "pkg.sub.deep.mod:ModuleAttrFactory",
        "pkg.sub.deep.mod:ChainFactory",
    }


def test_module_getattr_redirects_are_aliases(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/old_home.py": """
                from pkg import canon as _canonical
                _REDIRECTED = ("Factory", "Helper")
                def __getattr__(name):
                    if name not in _REDIRECTED:
                        raise AttributeError(name)
                    return getattr(_canonical, name)
            """,
            "pkg/renamed.py": """
                import pkg.canon
                _ALIASES = {"RequestScopedFactory": "Factory"}
                def __getattr__(name):
                    target = _ALIASES.get(name)
                    if target is None:
                        raise AttributeError(name)
                    return getattr(pkg.canon, target)
            """,
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True)
    aliases = {f.import_path: f for f in report.of_kind(Kind.ALIAS)}
    assert set(aliases) == {"pkg.old_home:Factory", "pkg.renamed:RequestScopedFactory"}
    renamed = aliases["pkg.renamed:RequestScopedFactory"]
    assert "__getattr__ redirects RequestScopedFactory to pkg.canon.Factory" in renamed.detail
    assert {a.import_check.status for a in aliases.values() if a.import_check} == {"confirmed"}


def test_src_layout(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"src/{k}": v for k, v in CANON_PKG.items()})
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    assert [f.module for f in report.of_kind(Kind.CANONICAL)] == ["pkg.canon"]


@pytest.mark.parametrize(
    ("source", "kind", "non_forwarding"),
    [
        pytest.param(
            """
            from pkg.canon import Factory
            class WFactory:
                def __init__(self, inner: "Factory | None" = None):
                    self._inner = inner
                def create(self, ctx):
                    return self._inner.create(ctx)
            """,
            Kind.WRAPPER,
            (),
            id="string-annotated-parameter",
        ),
        pytest.param(
            """
            from typing import Optional
            from pkg import canon
            class WFactory:
                _inner: canon.Factory
                def create(self, ctx):
                    '''Doc.'''
                    if not self._warned:
                        self._warned = True
                    self.uses += 1
                    return self._inner.create(ctx)
                @property
                def metrics(self):
                    return self._inner.metrics
            """,
            Kind.WRAPPER,
            (),
            id="class-level-annotation-and-warn-once",
        ),
        pytest.param(
            """
            from pkg.canon import Factory
            class WFactory:
                def __init__(self, factory: Factory | None = None):
                    self._factory = factory
                def configure(self):
                    self._factory = Factory()
                    return self._factory
                @property
                def factory(self):
                    if self._factory is None:
                        raise RuntimeError("configure first")
                    return self._factory
                async def create(self, ctx):
                    return await self.factory.create(ctx)
            """,
            Kind.WRAPPER,
            (),
            id="configure-step-and-guarded-accessor-property",
        ),
        pytest.param(
            """
            from pkg.canon import get_factory
            class WFactory:
                def __init__(self):
                    self._inner = get_factory()
                    self._other = object()
                def create(self, ctx):
                    return self._other.create(ctx)
                def metrics(self):
                    return self._inner.metrics()
            """,
            Kind.DUPLICATE,
            ("create",),
            id="forwards-to-the-wrong-attribute",
        ),
        pytest.param(
            """
            from pkg.canon import Factory
            class WFactory:
                def __init__(self):
                    self._inner = Factory()
                def _private(self):
                    return 1
            """,
            Kind.DUPLICATE,
            (),
            id="holds-but-forwards-nothing",
        ),
        pytest.param(
            """
            from pkg.canon import Factory
            class WFactory:
                def __init__(self):
                    self._inner = Factory()
                def create(self, ctx):
                    return self._inner.create(ctx)
                def metrics(self):
                    try:
                        return self._inner.metrics()
                    except Exception:
                        return {}
            """,
            Kind.DUPLICATE,
            ("metrics",),
            id="wraps-in-try",
        ),
    ],
)
def test_wrapper_heuristics(
    tmp_path: Path, source: str, kind: Kind, non_forwarding: tuple[str, ...]
) -> None:
    write_tree(tmp_path, CANON_PKG | {"pkg/wrap.py": source})
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    found = one(report, kind, "pkg.wrap:WFactory")
    assert found.non_forwarding == non_forwarding


def test_transitive_subclass_and_mock_name(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/sub.py": """
                from pkg.canon import Factory
                class Middle(Factory):
                    pass
                class LeafFactory(Middle):
                    pass
                class MockFactory:
                    pass
            """,
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    assert kinds_at(report, "pkg.sub:LeafFactory") == [Kind.SUBCLASS]
    assert kinds_at(report, "pkg.sub:MockFactory") == [Kind.TEST_DOUBLE]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("pkg/conftest.py", True),
        ("pkg/test_things.py", True),
        ("pkg/things_test.py", True),
        ("tests/helpers.py", True),
        ("test_framework/fixtures/x.py", True),
        ("pkg/testament.py", False),
        ("pkg/contest.py", False),
    ],
)
def test_test_paths(rel: str, expected: bool) -> None:
    assert is_test_path(rel.split("/")) is expected


def test_syntax_errors_and_bad_escapes_are_warnings(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/broken.py": "class BrokenFactory(:\n",
            "pkg/escapes.py": 'PATTERN = "\\d+"\nclass EscFactory:\n    pass\n',
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory")
    [warning] = report.warnings
    assert warning.path.endswith("pkg/broken.py") and warning.line == 1
    assert "syntax error" in warning.message
    assert kinds_at(report, "pkg.escapes:EscFactory") == [Kind.DUPLICATE]


def test_same_module_under_two_roots_is_a_warning(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", CANON_PKG)
    write_tree(tmp_path / "b", CANON_PKG)
    report = audit([tmp_path / "a", tmp_path / "b"], ["*Factory"], "pkg.canon:Factory")
    assert len(report.of_kind(Kind.CANONICAL)) == 1
    assert {w.message.split(" is ")[0] for w in report.warnings} == {
        "module pkg",
        "module pkg.canon",
    }


def test_exclude(tmp_path: Path) -> None:
    write_tree(tmp_path, CANON_PKG | {"pkg/vendored/old.py": "class OldFactory:\n    pass\n"})
    assert len(audit([tmp_path], ["*Factory"], "pkg.canon:Factory").duplicates) == 1
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory", exclude=["pkg/vendored/*"])
    assert report.duplicates == [] and report.passed
