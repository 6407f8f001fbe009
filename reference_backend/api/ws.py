"""``WS /ws``: authenticate, accept only when ready, then hand over to the service."""

from __future__ import annotations

import logging
import os

from fastapi import APIRouter, WebSocket

from reference_backend.runtime import Runtime
from reference_backend.security import InvalidTokenError, decode_access_token
from reference_backend.ws_protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY_VIOLATION,
    CLOSE_TRY_AGAIN_LATER,
    extract_token,
)

log = logging.getLogger(__name__)
router = APIRouter()


async def _refuse(websocket: WebSocket, subprotocol: str | None, code: int, reason: str) -> None:
    # Accept first so the client sees a close code, not a bare HTTP 403.
    await websocket.accept(subprotocol=subprotocol)
    await websocket.close(code=code, reason=reason)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime | None = getattr(websocket.app.state, "runtime", None)
    token, subprotocol = extract_token(websocket)
    if runtime is None or not runtime.service.accepting_sockets:
        draining = runtime is not None and runtime.service.draining
        code = CLOSE_GOING_AWAY if draining else CLOSE_TRY_AGAIN_LATER
        if runtime is not None:
            runtime.metrics.ws_rejected.labels(reason="not_ready").inc()
        await _refuse(websocket, subprotocol, code, "server not ready")
        return
    try:
        claims = decode_access_token(runtime.settings, token)
    except InvalidTokenError as exc:
        log.info("WebSocket auth rejected: %s", exc.reason)
        runtime.metrics.ws_rejected.labels(reason="auth").inc()
        await _refuse(websocket, subprotocol, CLOSE_POLICY_VIOLATION, "authentication failed")
        return
    # Reachable first (with Redis: subscribed to the user's channel), then accepted: once
    # the client sees its socket open, no event for it can be published unseen.
    await runtime.service.subscribe_user(claims.user_id)
    try:
        await websocket.accept(subprotocol=subprotocol, headers=_worker_header())
        await runtime.service.serve_socket(websocket, claims.user_id)
    finally:
        await runtime.service.unsubscribe_user(claims.user_id)


def _worker_header() -> list[tuple[bytes, bytes]]:
    """Which worker process serves the socket (``--workers N``): for operators and tests."""
    return [(b"x-goldenpath-worker", str(os.getpid()).encode())]
