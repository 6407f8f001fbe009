"""One user's execution engine: runs that user's agent runs, and emits only to that
user's sockets (the emitter it holds is bound to the context's user)."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

from reference_backend.agent import ModelProvider, ProviderError
from reference_backend.agents.supervisor.errors import FactoryError, InvalidContextError
from reference_backend.agents.supervisor.user_context import UserExecutionContext
from reference_backend.bridge import Emitter
from reference_backend.events import (
    AGENT_COMPLETED,
    AGENT_STARTED,
    AGENT_THINKING,
    TOOL_COMPLETED,
    TOOL_EXECUTING,
    agent_event,
    error_event,
)

log = logging.getLogger(__name__)


class UserExecutionEngine:
    """Runs one user's agent runs; sends events only through its own user's emitter."""

    _ids = itertools.count(1)  # unique per process, and cheaper than uuid4 on the hot path

    def __init__(
        self,
        *,
        context: UserExecutionContext,
        emit: Emitter,
        emit_user_id: str,
        model: ModelProvider,
        agent_name: str = "supervisor",
    ) -> None:
        self.engine_id = f"engine-{next(self._ids)}"
        self.context = context
        self.agent_name = agent_name
        self._emit = emit
        self._emit_user_id = emit_user_id
        self._model = model
        self.created_at = time.monotonic()
        self.last_used = self.created_at
        self.active_runs = 0
        self.runs_completed = 0
        self.closed = False

    @property
    def user_id(self) -> str:
        return self.context.user_id

    def validate(self) -> None:
        """The engine's context, emitter and owner are one and the same user."""
        if self._emit_user_id != self.context.user_id:
            raise InvalidContextError(
                f"engine for {self.context.user_id!r} bound to {self._emit_user_id!r}'s sockets"
            )

    def is_idle(self, now: float, timeout_s: float) -> bool:
        return self.active_runs == 0 and now - self.last_used >= timeout_s

    async def execute(
        self, message: str, *, thread_id: str, client_msg_id: str | None = None
    ) -> str | None:
        """Run the agent on ``message``, streaming the five golden-path events.

        Returns the reply, or None when the model failed (an ``error`` event says so).
        """
        if self.closed:
            raise FactoryError(f"engine {self.engine_id} is closed")
        ctx, started = self.context, time.perf_counter()
        self.active_runs += 1
        self.last_used = time.monotonic()

        def event(kind: str, data: dict[str, Any], tool_name: str | None = None) -> Any:
            return agent_event(
                kind,
                user_id=ctx.user_id,
                run_id=ctx.run_id,
                thread_id=thread_id,
                agent_name=self.agent_name,
                data=data,
                tool_name=tool_name,
                client_msg_id=client_msg_id,
            )

        try:
            await self._emit(
                event(AGENT_STARTED, {"message": message, "client_msg_id": client_msg_id})
            )
            thought = await self._model.think(message)
            await self._emit(event(AGENT_THINKING, {"thought": thought}))
            call = await self._model.choose_tool(message)
            await self._emit(
                event(TOOL_EXECUTING, {"tool_name": call.name, "args": call.args}, call.name)
            )
            result = await self._model.run_tool(call)
            await self._emit(
                event(TOOL_COMPLETED, {"tool_name": call.name, "result": result}, call.name)
            )
            reply = await self._model.reply(message, result)
            await self._emit(
                event(
                    AGENT_COMPLETED,
                    {
                        "result": reply,
                        "client_msg_id": client_msg_id,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
            )
        except ProviderError as exc:
            log.warning("run %s of %s: %s", ctx.run_id, ctx.user_id, exc)
            await self._emit(
                error_event("agent_failed", str(exc), run_id=ctx.run_id, thread_id=thread_id)
            )
            return None
        finally:
            self.active_runs -= 1
            self.last_used = time.monotonic()
        self.runs_completed += 1
        return reply

    def close(self) -> None:
        self.closed = True
