"""The legacy engine and context: mutable, and trusting whoever built them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from reference_backend.agent import ModelProvider
from reference_backend.events import (
    AGENT_COMPLETED,
    AGENT_STARTED,
    AGENT_THINKING,
    TOOL_COMPLETED,
    TOOL_EXECUTING,
    agent_event,
)
from reference_backend.legacy.bridge import AgentWebSocketBridge
from reference_backend.legacy.races import CONTEXT_SWAP, RaceCounters


@dataclass
class UserExecutionContext:
    """Mutable, no validation: the original's context."""

    user_id: str
    run_id: str
    thread_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class ExecutionEngine:
    """Runs the agent and sends events to ``context.user_id`` through the bridge."""

    def __init__(
        self,
        context: UserExecutionContext,
        bridge: AgentWebSocketBridge,
        model: ModelProvider,
        *,
        requested_by: str | None = None,
        races: RaceCounters | None = None,
    ) -> None:
        self.engine_id = uuid.uuid4().hex
        self.context = context
        self._bridge = bridge
        self._model = model
        # the user whose request built it: not ``context.user_id`` after a context swap
        self.requested_by = requested_by or context.user_id
        self._races = races or RaceCounters()

    @property
    def swapped(self) -> bool:
        """Built with another user's context: its events go to that user."""
        return self.requested_by != self.context.user_id

    async def execute(self, message: str, client_msg_id: str | None) -> str:
        ctx, started = self.context, time.perf_counter()

        async def emit(kind: str, data: dict[str, Any], tool: str | None = None) -> None:
            event = agent_event(
                kind,
                user_id=ctx.user_id,
                run_id=ctx.run_id,
                thread_id=ctx.thread_id,
                agent_name="supervisor",
                data=data,
                tool_name=tool,
                client_msg_id=client_msg_id,
            )
            await self._bridge.send_to_user(ctx.user_id, event)
            if self.swapped:  # delivered, to the wrong user
                self._races.misdelivered_event(CONTEXT_SWAP)

        await emit(AGENT_STARTED, {"message": message, "client_msg_id": client_msg_id})
        await emit(AGENT_THINKING, {"thought": await self._model.think(message)})
        call = await self._model.choose_tool(message)
        await emit(TOOL_EXECUTING, {"tool_name": call.name, "args": call.args}, call.name)
        result = await self._model.run_tool(call)
        await emit(TOOL_COMPLETED, {"tool_name": call.name, "result": result}, call.name)
        reply = await self._model.reply(message, result)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        await emit(
            AGENT_COMPLETED,
            {"result": reply, "client_msg_id": client_msg_id, "duration_ms": duration_ms},
        )
        return reply
