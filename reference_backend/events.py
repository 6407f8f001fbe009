"""The golden path's event shapes, as the original system's clients expect them."""

from __future__ import annotations

import time
from typing import Any, Final

AGENT_STARTED: Final = "agent_started"
AGENT_THINKING: Final = "agent_thinking"
TOOL_EXECUTING: Final = "tool_executing"
TOOL_COMPLETED: Final = "tool_completed"
AGENT_COMPLETED: Final = "agent_completed"
ERROR: Final = "error"

#: The five events of one agent run, in the order they are sent.
GOLDEN_PATH_EVENTS: Final = (
    AGENT_STARTED,
    AGENT_THINKING,
    TOOL_EXECUTING,
    TOOL_COMPLETED,
    AGENT_COMPLETED,
)

Event = dict[str, Any]


def agent_event(
    kind: str,
    *,
    user_id: str,
    run_id: str,
    thread_id: str,
    agent_name: str,
    data: dict[str, Any],
    tool_name: str | None = None,
    client_msg_id: str | None = None,
) -> Event:
    """One run event; ``seq`` is stamped by the connection that sends it.

    ``client_msg_id`` echoes the id the client gave its message, in every event of
    the run, so a client can tell any event of someone else's run from its own.
    """
    event: Event = {
        "type": kind,
        "user_id": user_id,
        "run_id": run_id,
        "thread_id": thread_id,
        "client_msg_id": client_msg_id,
        "agent_name": agent_name,
        "seq": None,
        "ts": time.time(),
        "data": data,
    }
    if tool_name is not None:
        event["tool_name"] = tool_name
    return event


def error_event(code: str, message: str, **data: Any) -> Event:
    """An ``error`` event for a frame the server could not act on."""
    return {
        "type": ERROR,
        "seq": None,
        "ts": time.time(),
        "data": {"code": code, "message": message, **data},
    }
