"""The legacy WebSocket bridge: one socket per user, a copy-on-write map, lazy creation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.websockets import WebSocket

from reference_backend.db import Database
from reference_backend.legacy.races import LOST_REGISTRATION, ORPHANED_BRIDGE, RaceCounters


class WebSocketNotRegisteredError(RuntimeError):
    """An event was sent for a user with no registered socket."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"no WebSocket registered for {user_id}")
        self.user_id = user_id


class AgentWebSocketBridge:
    """Maps user id -> socket. Writers copy the map, persist, then publish the copy."""

    def __init__(self, db: Database, races: RaceCounters) -> None:
        self._db = db
        self._races = races
        self._connections: dict[str, WebSocket] = {}
        self._seq: dict[str, int] = {}
        # registrations overwritten by a racing writer: user -> the socket that was lost
        self.lost: dict[str, WebSocket] = {}
        # removals undone by a racing writer: user -> the closed socket put back
        self.restored: dict[str, WebSocket] = {}

    async def initialize(self) -> None:
        """Record the bridge's creation in the audit trail, as the original did on first use
        (the canonical service records the same row, off the request path)."""
        await asyncio.to_thread(
            self._db.record_audit, [(time.time(), "system", "bridge_created", None, None)]
        )

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def has(self, user_id: str) -> bool:
        return user_id in self._connections

    async def _persist(self, action: str, user_id: str) -> None:
        # The audit row the canonical service also writes (buffered, off the request path);
        # the original wrote it here, inside the copy-on-write window.
        await asyncio.to_thread(self._db.record_audit, [(time.time(), user_id, action, None, None)])

    def _publish(self, before: dict[str, WebSocket], connections: dict[str, WebSocket]) -> None:
        """Publish ``connections``, a copy of ``before`` made before an await. Another
        writer's change made meanwhile is lost either way: a socket it registered, which
        the copy does not hold, is dropped; a socket it removed (closed), which the copy
        still holds, is put back, and the user's next send fails on it."""
        current = self._connections
        for user_id, websocket in current.items():
            if before.get(user_id) is not websocket and connections.get(user_id) is not websocket:
                self.lost[user_id] = websocket
                self._races.fired(LOST_REGISTRATION)
        for user_id, websocket in connections.items():
            if before.get(user_id) is websocket and user_id not in current:
                self.restored[user_id] = websocket
                self._races.fired(LOST_REGISTRATION)
        self._connections = connections

    async def register(self, user_id: str, websocket: WebSocket) -> None:
        # Copy-on-write "so readers never see a dict being changed"; but the
        # copy is taken before the await and published after it, so a
        # registration made meanwhile by another user is overwritten (lost).
        before = self._connections
        connections = dict(before)
        connections[user_id] = websocket
        await self._persist("ws_connect", user_id)
        self._publish(before, connections)
        self.lost.pop(user_id, None)
        self.restored.pop(user_id, None)

    async def unregister(self, user_id: str, websocket: WebSocket) -> None:
        # The same window: a user's new socket, registered while its old one is being
        # removed (a client that reconnects at once), is lost with it.
        before = self._connections
        connections = dict(before)
        if connections.get(user_id) is websocket:
            del connections[user_id]
        await self._persist("ws_disconnect", user_id)
        self._publish(before, connections)

    async def send_to_user(self, user_id: str, event: dict[str, Any]) -> None:
        websocket = self._connections.get(user_id)
        if websocket is None:
            raise WebSocketNotRegisteredError(user_id)
        self._seq[user_id] = self._seq.get(user_id, 0) + 1
        await websocket.send_json({**event, "seq": self._seq[user_id]})


class BridgeHolder:
    """Where the original kept its module-level bridge singleton (one per app here)."""

    def __init__(self, db: Database, races: RaceCounters) -> None:
        self._db = db
        self._races = races
        self.bridge: AgentWebSocketBridge | None = None
        self.orphans: list[AgentWebSocketBridge] = []
        self.initializations = 0

    async def get_websocket_bridge(self) -> AgentWebSocketBridge:
        if self.bridge is None:  # check ...
            bridge = AgentWebSocketBridge(self._db, self._races)
            self.initializations += 1
            await bridge.initialize()  # ... await (another caller gets here too) ...
            if self.bridge is not None:  # ... set: the later one wins, the earlier is orphaned
                self.orphans.append(self.bridge)
                self._races.fired(ORPHANED_BRIDGE)
            self.bridge = bridge
            return bridge
        return self.bridge

    def cause_of_missing(self, user_id: str) -> str | None:
        """Why ``user_id`` has no usable socket on the current bridge: its socket is registered
        on an orphaned bridge, or a copy-on-write lost its registration or put back its
        closed socket; else None."""
        if any(b.has(user_id) for b in self.orphans):
            return ORPHANED_BRIDGE
        bridge = self.bridge
        if bridge is not None and (user_id in bridge.lost or user_id in bridge.restored):
            return LOST_REGISTRATION
        return None
