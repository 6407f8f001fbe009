"""The SSOT audit, library level: every classification on the fragmented fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.ssot import (
    AuditReport,
    CanonicalNotFoundError,
    CanonicalSpecError,
    InputPathError,
    Kind,
    SSOTError,
    audit,
)
from analysis.ssot.render import render_json, render_markdown, render_table, to_dict
from analysis.ssot.scan import is_test_path
from tests.utils.ssot import CANON_PKG, kinds_at, one, write_tree

FIXTURE = Path(__file__).parent / "fixtures" / "fragmented"
PATTERNS = ("*ExecutionEngineFactory",)
CANONICAL = "netra_backend.app.agents.supervisor.execution_engine_factory:ExecutionEngineFactory"
APP = "netra_backend.app"


@pytest.fixture(scope="module")
def report() -> AuditReport:
    """The fixture audited once, statically."""
    return audit([FIXTURE], PATTERNS, CANONICAL)


# -- the fragmented fixture ----------------------------------------------------------


def test_fixture_classification_table(report: AuditReport) -> None:
    expected = {
        f"{APP}.agents.supervisor.execution_engine_factory:ExecutionEngineFactory": [
            Kind.CANONICAL
        ],
        f"{APP}.agents.supervisor:ExecutionEngineFactory": [Kind.ALIAS],
        f"{APP}.agents:ExecutionEngineFactory": [Kind.ALIAS],
        f"{APP}.websocket_core.engine_factory:WebSocketExecutionEngineFactory": [Kind.ALIAS],
        f"{APP}.websocket_core.engine_factory:LegacyExecutionEngineFactory": [Kind.ALIAS],
        f"{APP}.websocket_core.engine_factory:ConfiguredExecutionEngineFactory": [Kind.SUBCLASS],
        f"{APP}.agents.execution_engine_unified_factory:UnifiedExecutionEngineFactory": [
            Kind.WRAPPER
        ],
        f"{APP}.services.request_scoped_execution_engine_factory:"
        "RequestScopedExecutionEngineFactory": [Kind.DUPLICATE],
        f"{APP}.core.managers.execution_engine_factory:ExecutionEngineFactory": [Kind.DUPLICATE],
        f"{APP}.dependencies:IsolatedExecutionEngineFactory": [Kind.DUPLICATE],
        f"{APP}.compat:FallbackExecutionEngineFactory": [Kind.ALIAS, Kind.DUPLICATE],
        f"{APP}.compat:VersionedExecutionEngineFactory": [Kind.SUBCLASS, Kind.DUPLICATE],
        f"{APP}.dev_tools.fakes:FakeExecutionEngineFactory": [Kind.TEST_DOUBLE],
        "netra_backend.tests.factories:StubExecutionEngineFactory": [Kind.TEST_DOUBLE],
        "netra_backend.tests.factories:RecordingExecutionEngineFactory": [Kind.TEST_DOUBLE],
        "test_framework.fixtures.engine_factory:TestExecutionEngineFactory": [Kind.TEST_DOUBLE],
    }
    for path, kinds in expected.items():
        assert kinds_at(report, path) == sorted(kinds), path
    assert report.counts() == {
        "canonical": 1,
        "alias": 8,  # the 5 above plus 3 plain consumer imports
        "wrapper": 1,
        "subclass": 2,
        "duplicate": 5,
        "unresolved": 0,
        "test_double": 4,
        "functions": 4,
        "implementations": 6,
    }
    assert report.implementations == 6
    assert not report.passed
    assert report.warnings == []
    assert report.files_scanned == 22


def test_aliases_through_init_reexports(report: AuditReport) -> None:
    supervisor = one(report, Kind.ALIAS, f"{APP}.agents.supervisor:ExecutionEngineFactory")
    assert supervisor.path.endswith("agents/supervisor/__init__.py")
    assert not supervisor.plain_import
    # agents/__init__ re-exports from .supervisor, which itself re-exports: a chain.
    agents = one(report, Kind.ALIAS, f"{APP}.agents:ExecutionEngineFactory")
    assert "from netra_backend.app.agents.supervisor import" in agents.detail


def test_aliases_through_import_as(report: AuditReport) -> None:
    via_module = one(
        report, Kind.ALIAS, f"{APP}.websocket_core.engine_factory:WebSocketExecutionEngineFactory"
    )
    assert "= eef.ExecutionEngineFactory" in via_module.detail
    renamed = one(
        report, Kind.ALIAS, f"{APP}.websocket_core.engine_factory:LegacyExecutionEngineFactory"
    )
    assert "as LegacyExecutionEngineFactory" in renamed.detail


def test_plain_consumer_imports_are_aliases_but_marked(report: AuditReport) -> None:
    plain = {f.import_path for f in report.findings if f.plain_import}
    assert plain == {
        f"{APP}.dependencies:ExecutionEngineFactory",
        f"{APP}.agents.execution_engine_unified_factory:ExecutionEngineFactory",
        f"{APP}.services.request_scoped_execution_engine_factory:ExecutionEngineFactory",
    }
    assert report.counts()["alias"] == 5 + len(plain)


def test_subclass_through_an_alias_base(report: AuditReport) -> None:
    sub = one(
        report,
        Kind.SUBCLASS,
        f"{APP}.websocket_core.engine_factory:ConfiguredExecutionEngineFactory",
    )
    assert "via base LegacyExecutionEngineFactory" in sub.detail
    assert "overrides get_factory_metrics" in sub.detail


def test_unified_wrapper_forwards_everything(report: AuditReport) -> None:
    wrapper = one(
        report,
        Kind.WRAPPER,
        f"{APP}.agents.execution_engine_unified_factory:UnifiedExecutionEngineFactory",
    )
    assert wrapper.non_forwarding == ()
    for method in (
        "create_for_user",
        "user_execution_scope",
        "cleanup_engine",
        "shutdown",
        "get_factory_metrics",
    ):
        assert method in wrapper.detail
    assert "self._delegate" in wrapper.detail


def test_wrapper_with_one_own_method_is_a_duplicate_naming_it(report: AuditReport) -> None:
    dup = one(
        report,
        Kind.DUPLICATE,
        f"{APP}.services.request_scoped_execution_engine_factory:RequestScopedExecutionEngineFactory",
    )
    assert dup.non_forwarding == ("get_factory_metrics",)
    assert "does not forward get_factory_metrics" in dup.detail
    assert "partial wrapper of self._factory" in dup.detail


def test_core_manager_duplicate_and_where_it_is_reachable(report: AuditReport) -> None:
    dup = one(
        report,
        Kind.DUPLICATE,
        f"{APP}.core.managers.execution_engine_factory:ExecutionEngineFactory",
    )
    assert dup.reachable_at == (f"{APP}.core.managers:ExecutionEngineFactory",)
    assert "holds no canonical instance" in dup.detail


def test_conditional_definitions(report: AuditReport) -> None:
    fallback = [f for f in report.findings if f.name == "FallbackExecutionEngineFactory"]
    assert {f.kind for f in fallback} == {Kind.ALIAS, Kind.DUPLICATE}
    assert all(f.conditional for f in fallback)
    versioned = [f for f in report.findings if f.name == "VersionedExecutionEngineFactory"]
    assert {(f.kind, f.line) for f in versioned} == {(Kind.SUBCLASS, 29), (Kind.DUPLICATE, 34)}
    assert all(f.conditional for f in versioned)


def test_test_doubles_are_reported_apart_and_not_counted(report: AuditReport) -> None:
    doubles = {f.name: f for f in report.of_kind(Kind.TEST_DOUBLE)}
    assert set(doubles) == {
        "FakeExecutionEngineFactory",
        "StubExecutionEngineFactory",
        "RecordingExecutionEngineFactory",
        "TestExecutionEngineFactory",
    }
    assert "named as a test double" in doubles["FakeExecutionEngineFactory"].detail
    assert "would be a subclass" in doubles["RecordingExecutionEngineFactory"].detail
    assert all(f.kind is not Kind.TEST_DOUBLE for f in report.duplicates)


def test_factory_functions(report: AuditReport) -> None:
    funcs = {f.name: f for f in report.functions}
    assert set(funcs) == {
        "get_execution_engine_factory",
        "create_execution_engine",
        "get_request_scoped_factory",
        "create_test_execution_engine",
    }
    assert funcs["get_execution_engine_factory"].returns_canonical
    assert funcs["create_execution_engine"].calls_canonical
    assert not funcs["create_execution_engine"].returns_canonical
    independent = funcs["get_request_scoped_factory"]
    assert not independent.returns_canonical and not independent.calls_canonical
    assert funcs["create_test_execution_engine"].in_tests
    assert [f.in_tests for f in report.functions] == [False, False, False, True]


def test_max_duplicates_allows_a_migration_in_progress() -> None:
    assert audit([FIXTURE], PATTERNS, CANONICAL, max_duplicates=5).passed
    assert not audit([FIXTURE], PATTERNS, CANONICAL, max_duplicates=4).passed


def test_canonical_given_through_a_reexport() -> None:
    report = audit([FIXTURE], PATTERNS, f"{APP}.agents.supervisor:ExecutionEngineFactory")
    [canonical] = report.of_kind(Kind.CANONICAL)
    assert canonical.module == f"{APP}.agents.supervisor.execution_engine_factory"


def test_path_inside_a_package_keeps_import_names() -> None:
    report = audit([FIXTURE / "netra_backend" / "app" / "agents"], PATTERNS, CANONICAL)
    assert [f.kind for f in report.findings if f.kind is not Kind.ALIAS] == [
        Kind.CANONICAL,
        Kind.WRAPPER,
    ]
    assert report.passed


# -- import check -----------------------------------------------------------------------


def test_import_check_confirms_the_fixture() -> None:
    report = audit([FIXTURE], PATTERNS, CANONICAL, import_check=True)
    assert report.import_checked
    by_kind: dict[Kind, set[str]] = {}
    for f in report.findings:
        if f.kind is Kind.TEST_DOUBLE:
            assert f.import_check is None
            continue
        assert f.import_check is not None, f.import_path
        by_kind.setdefault(f.kind, set()).add(f.import_check.status)
    assert by_kind[Kind.CANONICAL] == {"confirmed"}
    assert by_kind[Kind.ALIAS] == {"confirmed"}
    assert by_kind[Kind.WRAPPER] == {"confirmed"}
    assert by_kind[Kind.SUBCLASS] == {"confirmed"}
    # The except/else branches are not the definitions in effect at runtime.
    compat = [
        f for f in report.duplicates if f.module == f"{APP}.compat" and f.import_check is not None
    ]
    assert {f.import_check.status for f in compat if f.import_check} == {"mismatch"}
    assert not report.import_mismatches  # duplicates' mismatches do not fail the audit
    assert report.warnings == []


def test_import_check_reports_a_runtime_mismatch_and_import_errors(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/lying.py": """
                from pkg.canon import Factory
                AliasFactory = Factory
                AliasFactory = type("AliasFactory", (), {})
            """,
            "pkg/broken.py": """
                import does_not_exist_anywhere
                from pkg.canon import Factory
                BrokenFactory = Factory
            """,
        },
    )
    report = audit([tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True)
    lying = one(report, Kind.ALIAS, "pkg.lying:AliasFactory")
    assert lying.import_check is not None and lying.import_check.status == "mismatch"
    broken = one(report, Kind.ALIAS, "pkg.broken:BrokenFactory")
    assert broken.import_check is not None and broken.import_check.status == "error"
    assert "ModuleNotFoundError" in broken.import_check.detail
    assert report.import_mismatches == [lying]
    assert not report.passed  # no duplicates, but an import path lied


def test_import_check_times_out_without_crashing(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        CANON_PKG
        | {
            "pkg/slow.py": """
                import time
                time.sleep(30)
                from pkg.canon import Factory as SlowFactory
            """
        },
    )
    report = audit(
        [tmp_path], ["*Factory"], "pkg.canon:Factory", import_check=True, import_timeout=1.0
    )
    assert {f.import_check.status for f in report.findings if f.import_check} == {"error"}
    assert any("timed out" in w.message for w in report.warnings)
    assert report.passed  # unverifiable is reported, not failed


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


# -- unusable input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "canonical", "error", "words"),
    [
        (["missing-dir"], CANONICAL, InputPathError, "path not found"),
        ([FIXTURE], "no_colon", CanonicalSpecError, "MODULE:CLASS"),
        ([FIXTURE], "a.b:not valid", CanonicalSpecError, "MODULE:CLASS"),
        ([FIXTURE], "nope.mod:X", CanonicalNotFoundError, "canonical module 'nope.mod'"),
        ([FIXTURE], f"{APP}.dependencies:Missing", CanonicalNotFoundError, "'Missing'"),
        (
            [FIXTURE],
            f"{APP}.dependencies:create_execution_engine",
            CanonicalNotFoundError,
            "is not a class",
        ),
        ([FIXTURE / "README.md"], CANONICAL, InputPathError, "not a Python file"),
    ],
)
def test_unusable_input(
    paths: list[Path | str], canonical: str, error: type[SSOTError], words: str
) -> None:
    with pytest.raises(error, match=words):
        audit(paths, PATTERNS, canonical)


def test_no_pattern_is_an_error() -> None:
    with pytest.raises(SSOTError, match="pattern"):
        audit([FIXTURE], [], CANONICAL)


# -- rendering --------------------------------------------------------------------------


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
