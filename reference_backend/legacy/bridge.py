"""The legacy WebSocket bridge: one socket per user, a copy-on-write map, lazy creation."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocket

from reference_backend.db import Database


class WebSocketNotRegisteredError(RuntimeError):
    """An event was sent for a user with no registered socket."""


class AgentWebSocketBridge:
    """Maps user id -> socket. Writers copy the map, persist, then publish the copy."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._connections: dict[str, WebSocket] = {}
        self._seq: dict[str, int] = {}
        self.known_users: list[str] = []

    async def initialize(self) -> None:
        """Warm up from the audit trail (recent users), as the original did on first use."""
        self.known_users = await asyncio.to_thread(self._db.recent_audit_users)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def _persist(self, action: str, user_id: str) -> None:
        await asyncio.to_thread(
            self._db.record_audit,
            [(asyncio.get_running_loop().time(), user_id, action, None, None)],
        )

    async def register(self, user_id: str, websocket: WebSocket) -> None:
        # Copy-on-write "so readers never see a dict being changed"; but the
        # copy is taken before the await and published after it, so a
        # registration made meanwhile by another user is overwritten (lost).
        connections = dict(self._connections)
        connections[user_id] = websocket
        await self._persist("ws_connect", user_id)
        self._connections = connections

    async def unregister(self, user_id: str, websocket: WebSocket) -> None:
        connections = dict(self._connections)
        if connections.get(user_id) is websocket:
            del connections[user_id]
        await self._persist("ws_disconnect", user_id)
        self._connections = connections

    async def send_to_user(self, user_id: str, event: dict[str, Any]) -> None:
        websocket = self._connections.get(user_id)
        if websocket is None:
            raise WebSocketNotRegisteredError(f"no WebSocket registered for {user_id}")
        self._seq[user_id] = self._seq.get(user_id, 0) + 1
        await websocket.send_json({**event, "seq": self._seq[user_id]})


class BridgeHolder:
    """Where the original kept its module-level bridge singleton (one per app here)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.bridge: AgentWebSocketBridge | None = None
        self.initializations = 0

    async def get_websocket_bridge(self) -> AgentWebSocketBridge:
        if self.bridge is None:  # check ...
            bridge = AgentWebSocketBridge(self._db)
            self.initializations += 1
            await bridge.initialize()  # ... await (another caller gets here too) ...
            self.bridge = bridge  # ... set: the later one wins, the earlier is orphaned
            return bridge
        return self.bridge
