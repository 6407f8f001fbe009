"""Frames a client may send over ``/ws``, and the token it may bring.

The token is looked for in this order: the ``jwt-auth`` + ``jwt.<base64url
token>`` subprotocols (what browser clients of the original system send),
``Authorization: Bearer``, then ``?token=``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.websockets import WebSocket

from reference_backend.events import Event, error_event

JWT_SUBPROTOCOL = "jwt-auth"
_TOKEN_PREFIX = "jwt."  # noqa: S105 - a subprotocol prefix, not a secret

# RFC 6455 close codes used by the backend.
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class UserMessage:
    message: str
    client_msg_id: str | None


def offered_subprotocols(websocket: WebSocket) -> list[str]:
    """Every subprotocol offered, with comma-separated header values split properly."""
    offered: list[str] = []
    for item in websocket.scope.get("subprotocols", []):
        offered.extend(part.strip() for part in str(item).split(",") if part.strip())
    return offered


def extract_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """``(token, subprotocol to accept with)``: subprotocol, then header, then query."""
    offered = offered_subprotocols(websocket)
    for proto in offered:
        if proto.startswith(_TOKEN_PREFIX):
            encoded = proto[len(_TOKEN_PREFIX) :]
            try:
                token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                token = ""  # present but undecodable: rejected as a bad token, not skipped
            accept = JWT_SUBPROTOCOL if JWT_SUBPROTOCOL in offered else None
            return token, accept
    accept = JWT_SUBPROTOCOL if JWT_SUBPROTOCOL in offered else None
    auth = websocket.headers.get("authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), accept
    query = websocket.query_params.get("token")
    return (query or None), accept


# Ids the server assigns. A client that names one is trying to attach to a run
# or thread (possibly another user's), so the frame is refused, never run.
SERVER_ASSIGNED_IDS = ("run_id", "thread_id")


class FrameTooBig(Exception):
    """A frame over ``ws_max_message_bytes``: the socket is closed with 1009."""


async def receive_frames(
    websocket: WebSocket,
    *,
    max_bytes: int,
    on_rejected: Callable[[str], None] | None = None,
) -> AsyncIterator[UserMessage | Event]:
    """Yield each valid ``user_message``, or an ``error`` event for a frame that is not one.

    ``on_rejected`` is called with the error code of each refused frame (for metrics).
    Ends when the client disconnects; raises FrameTooBig for an oversized frame.
    """
    async for frame in _parse_frames(websocket, max_bytes=max_bytes):
        if on_rejected is not None and not isinstance(frame, UserMessage):
            if frame.get("type") == "error":
                on_rejected(str(frame.get("data", {}).get("code", "unknown")))
        yield frame


async def _parse_frames(
    websocket: WebSocket, *, max_bytes: int
) -> AsyncIterator[UserMessage | Event]:
    while True:
        msg = await websocket.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text: str | None = msg.get("text")
        if text is None:
            raw = msg.get("bytes") or b""
            if len(raw) > max_bytes:
                raise FrameTooBig(f"{len(raw)} bytes")
            yield error_event("binary_not_supported", "send JSON text frames")
            continue
        if len(text) > max_bytes or len(text.encode()) > max_bytes:
            raise FrameTooBig(f"{len(text.encode())} bytes")
        try:
            payload = json.loads(text)
        except ValueError:
            yield error_event("invalid_json", "the frame is not valid JSON")
            continue
        if not isinstance(payload, dict):
            yield error_event("invalid_message", "a frame must be a JSON object")
            continue
        kind = payload.get("type")
        if kind == "ping":
            yield {"type": "pong", "seq": None, "data": {}}
            continue
        if kind != "user_message":
            yield error_event("unknown_type", "unknown message type", received_type=str(kind))
            continue
        forged = [key for key in SERVER_ASSIGNED_IDS if key in payload]
        if forged:
            # The ids are not echoed back: the client gets no hint whether they exist.
            yield error_event(
                "forged_id", "run and thread ids are assigned by the server", fields=forged
            )
            continue
        message, client_msg_id = payload.get("message"), payload.get("client_msg_id")
        if not isinstance(message, str) or not message.strip():
            yield error_event("invalid_message", "user_message needs a non-empty 'message'")
            continue
        if client_msg_id is not None and not isinstance(client_msg_id, str):
            yield error_event("invalid_message", "'client_msg_id' must be a string")
            continue
        yield UserMessage(message=message, client_msg_id=client_msg_id)
