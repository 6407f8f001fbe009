"""The golden path on the fragmented legacy factories (``--factory legacy``).

Same routes, same frames, same events as the canonical service; what differs
is how state is built and shared (see the package docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from reference_backend.agent import ModelProvider
from reference_backend.config import Settings
from reference_backend.db import Database
from reference_backend.events import error_event
from reference_backend.legacy.bridge import (
    AgentWebSocketBridge,
    BridgeHolder,
    WebSocketNotRegisteredError,
)
from reference_backend.legacy.engine import ExecutionEngine, UserExecutionContext
from reference_backend.legacy.execution_engine_unified_factory import (
    UnifiedExecutionEngineFactory,
)
from reference_backend.legacy.races import (
    CONTEXT_SWAP,
    UNATTRIBUTED,
    UNCONFIGURED_FACTORY,
    RaceCounters,
)
from reference_backend.legacy.supervisor.execution_engine_factory import (
    ExecutionEngineFactory,
    FactoryNotConfiguredError,
)
from reference_backend.metrics import Metrics
from reference_backend.service import new_run_id, new_thread_id
from reference_backend.ws_protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_TOO_BIG,
    FrameTooBig,
    UserMessage,
    receive_frames,
)

log = logging.getLogger(__name__)


class LegacyService:
    """Nothing is built at startup; everything is built by the first request that needs it."""

    mode = "legacy"
    # The original accepted every socket at once and reported ready without
    # looking at the factory: both are part of the "before".
    accepting_sockets = True
    ready = True
    draining = False

    def __init__(
        self, settings: Settings, *, db: Database, model: ModelProvider, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._db = db
        self._model = model
        self._metrics = metrics
        self.races = RaceCounters(metrics)
        self._bridges = BridgeHolder(db, self.races)
        self._socket_factory: ExecutionEngineFactory | None = None
        self._http_factory: UnifiedExecutionEngineFactory | None = None
        self._http_runs: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def subscribe_user(self, user_id: str) -> None:
        return None  # one process, one (lazily built) bridge: no broker in the "before"

    async def unsubscribe_user(self, user_id: str) -> None:
        return None

    async def _get_socket_factory(self) -> ExecutionEngineFactory:
        if self._socket_factory is None:
            factory = ExecutionEngineFactory(self._db, self._model, self.races)
            self._socket_factory = factory  # published before it is configured
            await self._bridges.get_websocket_bridge()
            factory.configure(self._bridges)
        return self._socket_factory

    async def _get_http_factory(self) -> UnifiedExecutionEngineFactory:
        if self._http_factory is None:
            factory = UnifiedExecutionEngineFactory(self._db, self._model, self.races)
            self._http_factory = factory
            await self._bridges.get_websocket_bridge()
            factory.configure(self._bridges)
        return self._http_factory

    async def serve_socket(self, websocket: WebSocket, user_id: str) -> None:
        bridge: AgentWebSocketBridge = await self._bridges.get_websocket_bridge()
        await bridge.register(user_id, websocket)
        thread_id = new_thread_id()
        self._metrics.ws_open.inc()
        engine: ExecutionEngine | None = None
        try:
            async for frame in receive_frames(
                websocket,
                max_bytes=self._settings.ws_max_message_bytes,
                on_rejected=lambda reason: self._metrics.ws_frames_rejected.labels(
                    reason=reason
                ).inc(),
            ):
                if not isinstance(frame, UserMessage):
                    await websocket.send_json(frame)
                    continue
                factory = await self._get_socket_factory()
                context = UserExecutionContext(user_id, new_run_id(), thread_id)
                engine = None
                engine = await factory.create_for_user(context)
                await engine.execute(frame.message, frame.client_msg_id)
                await factory.cleanup_engine(engine)  # skipped when execute raised: a leak
                self._metrics.runs.labels(outcome="completed").inc()
        except FrameTooBig:
            await self._close(websocket, CLOSE_TOO_BIG, "frame too big")
        except WebSocketDisconnect:
            pass
        except Exception as exc:
            # The original handler's catch-all: any error in a run ends the socket with 1011.
            log.exception("legacy run failed for %s", user_id)
            self._metrics.runs.labels(outcome="error").inc()
            if await self._close(websocket, CLOSE_INTERNAL_ERROR, "internal error"):
                self.races.close_1011(self._cause(exc, engine))
        finally:
            self._metrics.ws_open.dec()
            await bridge.unregister(user_id, websocket)

    def _cause(self, exc: Exception, engine: ExecutionEngine | None) -> str:
        """The race behind a failed run."""
        if isinstance(exc, FactoryNotConfiguredError):
            return UNCONFIGURED_FACTORY
        if engine is not None and engine.swapped:
            return CONTEXT_SWAP  # it sent to the user whose context it was given
        if isinstance(exc, KeyError):
            # cleanup by user id: only two engines under one user (a swap) make it miss
            return CONTEXT_SWAP
        # A send that found no socket for the user, or a stale one (a registration a
        # copy-on-write put back after it was closed): which race took its socket?
        if isinstance(exc, WebSocketNotRegisteredError):
            target: str | None = exc.user_id
        else:
            target = engine.context.user_id if engine is not None else None
        cause = self._bridges.cause_of_missing(target) if target is not None else None
        return cause or UNATTRIBUTED

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> bool:
        """Close with ``code``; False when the client had already gone (nothing was sent)."""
        try:
            await websocket.close(code=code, reason=reason)
        except RuntimeError:  # the client may have gone already
            return False
        self._metrics.ws_closes.labels(code=str(code)).inc()
        return True

    async def start_run(self, user_id: str, message: str, client_msg_id: str | None) -> str:
        run_id = new_run_id()
        task = asyncio.create_task(self._http_run(user_id, run_id, message, client_msg_id))
        self._http_runs.add(task)
        task.add_done_callback(self._http_runs.discard)
        return run_id

    async def _http_run(
        self, user_id: str, run_id: str, message: str, client_msg_id: str | None
    ) -> None:
        engine: ExecutionEngine | None = None
        try:
            factory = await self._get_http_factory()
            engine = await factory.create_for_user(UserExecutionContext(user_id, run_id))
            await engine.execute(message, client_msg_id)
            await factory.cleanup_engine(engine)
        except Exception as exc:
            log.warning("legacy HTTP run %s failed: %r", run_id, exc)
            self.races.http_run_failed(self._cause(exc, engine))
            bridge = self._bridges.bridge
            if bridge is not None:
                with contextlib.suppress(Exception):
                    await bridge.send_to_user(
                        user_id, error_event("run_failed", "internal error", run_id=run_id)
                    )

    async def drain(self, *, grace_s: float) -> int:
        return 0  # the original had no drain: the server's own 1012/1006 closes ended sockets

    async def shutdown(self) -> None:
        for task in list(self._http_runs):
            task.cancel()
        await asyncio.gather(*self._http_runs, return_exceptions=True)

    def factory_metrics(self) -> dict[str, Any]:
        factories = [f for f in (self._socket_factory, self._http_factory) if f is not None]
        metrics: dict[str, Any] = {
            "factory_type": "fragmented",
            "factory_mode": "legacy",
            "factory_instances": len(factories),
            "bridge_initializations": self._bridges.initializations,
            "orphaned_bridges": len(self._bridges.orphans),
            "websocket_connections": (
                self._bridges.bridge.connection_count if self._bridges.bridge else 0
            ),
        }
        for key in (
            "total_engines_created",
            "total_engines_cleaned",
            "active_engines_count",
            "creation_errors",
        ):
            metrics[key] = sum(int(f.get_factory_metrics()[key]) for f in factories)
        return {**metrics, **self.races.as_dict()}
