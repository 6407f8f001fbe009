"""Every compatibility path resolves to, or delegates to, the one canonical class."""

from __future__ import annotations

import asyncio
import importlib
import warnings

import pytest

from reference_backend.agent import SimulatedModel
from reference_backend.agents.supervisor import execution_engine_factory as canonical_module
from reference_backend.agents.supervisor.execution_engine_factory import (
    ExecutionEngineFactory,
    UserExecutionContext,
    UserExecutionEngine,
)
from reference_backend.bridge import WebSocketBridge


@pytest.fixture(autouse=True)
def _fresh_compat_state() -> None:
    canonical_module._COMPAT_WARNED.clear()
    canonical_module._COMPAT_USAGE.clear()


def test_core_managers_redirect_is_the_canonical_class() -> None:
    module = importlib.import_module("reference_backend.core.managers.execution_engine_factory")
    with pytest.warns(DeprecationWarning, match="core.managers"):
        redirected = module.ExecutionEngineFactory
    assert redirected is ExecutionEngineFactory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert module.ExecutionEngineFactory is ExecutionEngineFactory  # warned once already
    with pytest.raises(AttributeError):
        _ = module.NoSuchThing


def test_request_scoped_name_is_the_canonical_class() -> None:
    module = importlib.import_module("reference_backend.agents.request_scoped_factory")
    with pytest.warns(DeprecationWarning, match="RequestScopedExecutionEngineFactory"):
        assert module.RequestScopedExecutionEngineFactory is ExecutionEngineFactory
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # second use: counted, not warned again
        assert module.RequestScopedExecutionEngineFactory is ExecutionEngineFactory
    usage = canonical_module._COMPAT_USAGE
    assert (
        usage["reference_backend.agents.request_scoped_factory.RequestScopedExecutionEngineFactory"]
        == 2
    )


def test_unified_factory_delegates_to_a_canonical_instance() -> None:
    from reference_backend.agents.execution_engine_unified_factory import (
        UnifiedExecutionEngineFactory,
    )

    async def go() -> None:
        with pytest.warns(DeprecationWarning, match="UnifiedExecutionEngineFactory"):
            unified = UnifiedExecutionEngineFactory()
        held = unified.configure(WebSocketBridge(), SimulatedModel())
        assert type(held) is ExecutionEngineFactory and unified.factory is held
        engine = await unified.create_for_user(UserExecutionContext("user-a", "run-1"))
        assert isinstance(engine, UserExecutionEngine)
        assert held.get_factory_metrics()["active_engines_count"] == 1
        await unified.cleanup_engine(engine)
        metrics = unified.get_factory_metrics()
        assert metrics["active_engines_count"] == 0
        assert any("Unified" in k for k in metrics["backwards_compatibility_usage"])

    asyncio.run(go())


def test_create_execution_engine_is_create_for_user() -> None:
    async def go() -> None:
        factory = ExecutionEngineFactory(websocket_bridge=WebSocketBridge(), model=SimulatedModel())
        with pytest.warns(DeprecationWarning, match="create_for_user"):
            engine = await factory.create_execution_engine(UserExecutionContext("user-a", "r-1"))
        assert isinstance(engine, UserExecutionEngine)
        assert factory.get_factory_metrics()["backwards_compatibility_usage"] == {
            "ExecutionEngineFactory.create_execution_engine": 1
        }

    asyncio.run(go())


def test_every_path_resolves_to_one_class() -> None:
    paths = [
        ("reference_backend.agents.supervisor", "ExecutionEngineFactory"),
        ("reference_backend.agents.supervisor.execution_engine_factory", "ExecutionEngineFactory"),
        ("reference_backend.core.managers.execution_engine_factory", "ExecutionEngineFactory"),
        ("reference_backend.agents.request_scoped_factory", "RequestScopedExecutionEngineFactory"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolved = {getattr(importlib.import_module(m), n) for m, n in paths}
    assert resolved == {ExecutionEngineFactory}
