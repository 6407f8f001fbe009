"""Classification of every factory-like class on the fragmented fixture (classify.py)."""

from __future__ import annotations

from ssotaudit import (
    AuditReport,
    Kind,
    audit,
)
from tests.utils.ssot import APP, CANONICAL, FIXTURE, PATTERNS, kinds_at, one

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
