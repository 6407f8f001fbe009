"""Start an agent run over HTTP; its events go to the user's open sockets."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from reference_backend.agents.supervisor import FactoryShutdownError
from reference_backend.api.deps import CurrentUser, RuntimeDep, documented

router = APIRouter(prefix="/api/chat", tags=["chat"])


class ChatMessage(BaseModel):
    # Unknown fields are refused (422), a run_id or thread_id above all: the server
    # assigns them, and a client naming one is trying to attach to another run.
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=32 * 1024)
    client_msg_id: str | None = Field(default=None, max_length=256)


class RunStarted(BaseModel):
    run_id: str
    status: str = "started"


@router.post(
    "/message",
    response_model=RunStarted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(400, 401, 503),
)
async def post_message(body: ChatMessage, user: CurrentUser, runtime: RuntimeDep) -> RunStarted:
    """Start an agent run for the caller; returns its run_id."""
    try:
        run_id = await runtime.service.start_run(user.user_id, body.message, body.client_msg_id)
    except FactoryShutdownError:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not ready") from None
    return RunStarted(run_id=run_id)
