"""The canonical factory on its own: contexts, limits, cleanup, reaping, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reference_backend.agent import SimulatedModel
from reference_backend.agents.supervisor import (
    ExecutionEngineFactory,
    FactoryShutdownError,
    InvalidContextError,
    UserEngineLimitError,
    UserExecutionContext,
)
from reference_backend.bridge import WebSocketBridge


def make_factory(**kwargs: Any) -> ExecutionEngineFactory:
    return ExecutionEngineFactory(
        websocket_bridge=WebSocketBridge(), model=SimulatedModel(), **kwargs
    )


def test_context_is_immutable_and_validated() -> None:
    ctx = UserExecutionContext("user-1", "run-1", client_msg_id="m")
    with pytest.raises(AttributeError):
        ctx.user_id = "user-2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ctx.metadata["x"] = 1  # type: ignore[index]
    assert ctx.metadata["client_msg_id"] == "m"
    for bad in ["", "  ", "placeholder", "default", "None", "null", "undefined", "test", "mock"]:
        with pytest.raises(InvalidContextError, match="user_id"):
            UserExecutionContext(bad, "run-1")
        with pytest.raises(InvalidContextError, match="run_id"):
            UserExecutionContext("user-1", bad)


@pytest.mark.parametrize("keyword", ["session_id", "thread_id"])
def test_legacy_keywords_warn_and_move_into_metadata(keyword: str) -> None:
    with pytest.warns(DeprecationWarning, match=keyword):
        ctx = UserExecutionContext("user-1", "run-1", **{keyword: "s-1"})
    assert ctx.metadata[keyword] == "s-1"


def test_engine_per_user_and_cleanup() -> None:
    async def go() -> None:
        factory = make_factory()
        a = await factory.create_for_user(UserExecutionContext("user-a", "run-1"))
        b = await factory.create_for_user(UserExecutionContext("user-b", "run-2"))
        assert a is not b and a.user_id == "user-a" and b.user_id == "user-b"
        assert factory.get_factory_metrics()["active_engines_per_user"] == {
            "user-a": 1,
            "user-b": 1,
        }
        await factory.cleanup_engine(a)
        await factory.cleanup_engine(a)  # idempotent
        await factory.cleanup_engine(b)
        m = factory.get_factory_metrics()
        assert m["total_engines_created"] == 2 and m["total_engines_cleaned"] == 2
        assert m["active_engines_count"] == 0 and m["cleanup_errors"] == 0

    asyncio.run(go())


def test_scope_cleans_up_on_error() -> None:
    async def go() -> None:
        factory = make_factory()
        with pytest.raises(RuntimeError):
            async with factory.user_execution_scope(UserExecutionContext("user-a", "run-1")):
                raise RuntimeError("boom")
        assert factory.get_factory_metrics()["active_engines_count"] == 0

    asyncio.run(go())


def test_per_user_limit_and_failed_validation_holds_no_slot() -> None:
    async def go() -> None:
        factory = make_factory(max_engines_per_user=2)
        for i in range(2):
            await factory.create_for_user(UserExecutionContext("user-a", f"run-{i}"))
        with pytest.raises(UserEngineLimitError):
            await factory.create_for_user(UserExecutionContext("user-a", "run-9"))
        # another user is not limited by user-a
        await factory.create_for_user(UserExecutionContext("user-b", "run-1"))
        with pytest.raises(InvalidContextError):
            await factory.create_for_user("user-c")  # type: ignore[arg-type]
        m = factory.get_factory_metrics()
        assert m["user_limit_rejections"] == 1 and m["creation_errors"] == 1
        assert m["active_engines_per_user"] == {"user-a": 2, "user-b": 1}

    asyncio.run(go())


def test_validation_failure_is_not_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # An engine whose emitter belongs to another user fails validation; the
    # original registered first and leaked a slot against the limit.
    async def go() -> None:
        factory = make_factory(max_engines_per_user=1)
        bridge = factory.websocket_bridge
        real = bridge.emitter_for
        monkeypatch.setattr(
            bridge, "emitter_for", lambda user_id: real("someone-else"), raising=True
        )
        from reference_backend.agents.supervisor import execution_engine_factory as mod

        original = mod.UserExecutionEngine.__init__

        def crossed(self: Any, **kw: Any) -> None:
            original(self, **{**kw, "emit_user_id": "someone-else"})

        monkeypatch.setattr(mod.UserExecutionEngine, "__init__", crossed)
        with pytest.raises(InvalidContextError, match="bound to"):
            await factory.create_for_user(UserExecutionContext("user-a", "run-1"))
        assert factory.get_factory_metrics()["active_engines_count"] == 0
        monkeypatch.undo()
        await factory.create_for_user(UserExecutionContext("user-a", "run-2"))  # slot still free

    asyncio.run(go())


def test_idle_engines_are_reaped() -> None:
    async def go() -> None:
        factory = make_factory(engine_idle_timeout_s=0.05, reap_interval_s=0.01)
        await factory.start()
        await factory.create_for_user(UserExecutionContext("user-a", "run-1"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if factory.get_factory_metrics()["active_engines_count"] == 0:
                break
        m = factory.get_factory_metrics()
        assert m["active_engines_count"] == 0 and m["timeout_cleanups"] == 1
        await factory.shutdown()

    asyncio.run(go())


def test_shutdown_cleans_everything_and_refuses_more() -> None:
    async def go() -> None:
        factory = make_factory()
        await factory.start()
        for i in range(5):
            await factory.create_for_user(UserExecutionContext(f"user-{i}", "run-1"))
        await factory.shutdown()
        assert factory.get_factory_metrics()["active_engines_count"] == 0
        with pytest.raises(FactoryShutdownError):
            await factory.create_for_user(UserExecutionContext("user-a", "run-2"))

    asyncio.run(go())


def test_engine_events_reach_only_its_user() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    class RecordingBridge(WebSocketBridge):
        async def send_to_user(self, user_id: str, event: dict[str, Any]) -> int:
            sent.append((user_id, event))
            return 1

    async def go() -> None:
        factory = ExecutionEngineFactory(websocket_bridge=RecordingBridge(), model=SimulatedModel())

        async def run(user: str) -> None:
            async with factory.user_execution_scope(UserExecutionContext(user, f"run-{user}")) as e:
                await e.execute(f"message from {user}", thread_id="t-1")

        await asyncio.gather(*(run(f"user-{i}") for i in range(20)))

    asyncio.run(go())
    assert len(sent) == 100
    for user_id, event in sent:
        assert event["user_id"] == user_id and event["run_id"] == f"run-{user_id}"
        assert f"message from {user_id}" in str(event["data"]) or event["type"] in {
            "agent_thinking",
            "tool_executing",
            "tool_completed",
        }
