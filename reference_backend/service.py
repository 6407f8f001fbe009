"""The golden path on the canonical factory: sockets, runs, drain.

A ``GoldenPathService`` is what the API routes talk to. The canonical one is
here; ``reference_backend.legacy.service`` has the fragmented one with the
same methods, so the routes do not know which mode they serve.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from reference_backend.agent import ModelProvider
from reference_backend.agents.supervisor import (
    ExecutionEngineFactory,
    FactoryError,
    FactoryShutdownError,
    UserEngineLimitError,
    UserExecutionContext,
)
from reference_backend.audit import AuditTrail
from reference_backend.bridge import (
    CLOSE_TOO_SLOW,
    Connection,
    SlowConsumerError,
    WebSocketBridge,
)
from reference_backend.broker import BrokerUnavailable, RedisBroker
from reference_backend.config import Settings
from reference_backend.events import error_event
from reference_backend.metrics import Metrics
from reference_backend.ws_protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_TOO_BIG,
    FrameTooBig,
    UserMessage,
    receive_frames,
)

log = logging.getLogger(__name__)


class GoldenPathService(Protocol):
    """What the routes need from a factory mode."""

    mode: str

    @property
    def draining(self) -> bool: ...

    @property
    def accepting_sockets(self) -> bool: ...

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def serve_socket(self, websocket: WebSocket, user_id: str) -> None: ...

    async def subscribe_user(self, user_id: str) -> None:
        """Before a socket of ``user_id`` is accepted: be reachable for its events."""

    async def unsubscribe_user(self, user_id: str) -> None:
        """After that socket closed (or was never accepted)."""

    async def start_run(self, user_id: str, message: str, client_msg_id: str | None) -> str: ...

    async def drain(self, *, grace_s: float) -> int: ...

    async def shutdown(self) -> None: ...

    def factory_metrics(self) -> dict[str, Any]: ...


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex}"


def new_thread_id() -> str:
    return f"thread-{uuid.uuid4().hex[:16]}"


class CanonicalService:
    """One factory and one bridge, built at startup; a task per run."""

    mode = "canonical"

    def __init__(
        self, settings: Settings, *, model: ModelProvider, audit: AuditTrail, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._audit = audit
        self.bridge = WebSocketBridge(
            send_timeout_s=settings.ws_send_timeout_s,
            on_slow_consumer=self._slow_consumer,
            on_cross_user=lambda _target, _owner: metrics.cross_user_refused.inc(),
        )
        self.factory = ExecutionEngineFactory(
            websocket_bridge=self.bridge,
            model=model,
            audit=audit,
            max_engines_per_user=settings.max_engines_per_user,
            engine_idle_timeout_s=settings.engine_idle_timeout_s,
        )
        self._runs: set[asyncio.Task[None]] = set()
        self._started = False
        self._draining = False
        if settings.redis_url:
            # scale-out: events through Redis to every worker's sockets of the user
            self.bridge.broker = RedisBroker(
                settings.redis_url, self.bridge.deliver_published, prefix=settings.redis_prefix
            )

    @property
    def broker(self) -> RedisBroker | None:
        return self.bridge.broker

    @property
    def ready(self) -> bool:
        broker_ok = self.broker is None or self.broker.healthy
        return self._started and not self._draining and broker_ok

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def accepting_sockets(self) -> bool:
        # Transport accepted is not application ready: no socket before the
        # factory and bridge exist, none once draining has begun.
        return self.ready

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()  # raises BrokerUnavailable: no start without Redis
        await self.factory.start()
        self.bridge.start()
        self._audit.record("system", "bridge_created")
        self._started = True

    async def subscribe_user(self, user_id: str) -> None:
        if self.broker is not None:
            await self.broker.subscribe(user_id)

    async def unsubscribe_user(self, user_id: str) -> None:
        if self.broker is not None:
            await self.broker.unsubscribe(user_id)

    async def serve_socket(self, websocket: WebSocket, user_id: str) -> None:
        """Serve one accepted socket until the client leaves or the server drains."""
        conn = self.bridge.register(websocket, user_id)
        self._audit.record(user_id, "ws_connect")  # buffered: no await on the request path
        thread_id = new_thread_id()
        # Back-pressure for floods: a frame is read only when this socket has a free
        # run slot, so a client faster than the agent waits instead of piling up tasks.
        slots = asyncio.Semaphore(self._settings.ws_max_inflight_runs)
        self._metrics.ws_open.inc()
        try:
            async for frame in receive_frames(
                websocket,
                max_bytes=self._settings.ws_max_message_bytes,
                on_rejected=self._frame_rejected,
            ):
                if not isinstance(frame, UserMessage):
                    await conn.send(frame)
                    continue
                if slots.locked():
                    self._metrics.ws_backpressure.inc()
                await slots.acquire()
                if self._draining:
                    slots.release()
                    await conn.send(error_event("shutting_down", "the server is shutting down"))
                    continue
                task = self._spawn(user_id, new_run_id(), thread_id, frame)
                task.add_done_callback(lambda _: slots.release())
        except SlowConsumerError:
            # The socket is already closing; count it unless a run's send was first
            # (the bridge unregisters a slow connection on its first timeout).
            if conn in self.bridge.connections_of(user_id):
                self._slow_consumer(conn)
        except FrameTooBig as exc:
            log.info("closing a socket of %s: frame too big (%s)", user_id, exc)
            self._metrics.ws_closes.labels(code=str(CLOSE_TOO_BIG)).inc()
            await conn.close(CLOSE_TOO_BIG, "frame too big")
        except WebSocketDisconnect:
            pass
        finally:
            self.bridge.unregister(conn)
            self._audit.record(user_id, "ws_disconnect")
            self._metrics.ws_open.dec()

    def _frame_rejected(self, reason: str) -> None:
        self._metrics.ws_frames_rejected.labels(reason=reason).inc()

    def _slow_consumer(self, conn: Connection) -> None:
        self._metrics.ws_send_timeouts.inc()
        self._metrics.ws_closes.labels(code=str(CLOSE_TOO_SLOW)).inc()

    def _spawn(
        self, user_id: str, run_id: str, thread_id: str, msg: UserMessage
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(user_id, run_id, thread_id, msg), name=run_id)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task

    async def _run(self, user_id: str, run_id: str, thread_id: str, msg: UserMessage) -> None:
        started = time.perf_counter()
        outcome = "completed"
        try:
            context = UserExecutionContext(user_id, run_id, client_msg_id=msg.client_msg_id)
            async with self.factory.user_execution_scope(context) as engine:
                reply = await engine.execute(
                    msg.message, thread_id=thread_id, client_msg_id=msg.client_msg_id
                )
            outcome = "completed" if reply is not None else "agent_failed"
        except UserEngineLimitError as exc:
            outcome = "rejected"
            await self.bridge.send_to_user(
                user_id, error_event("engine_limit", str(exc), run_id=run_id)
            )
        except FactoryShutdownError:
            outcome = "rejected"
            await self.bridge.send_to_user(
                user_id, error_event("shutting_down", "the server is shutting down", run_id=run_id)
            )
        except FactoryError as exc:
            outcome = "error"
            log.warning("run %s of %s refused: %s", run_id, user_id, exc)
        except BrokerUnavailable as exc:
            # Redis went away mid-run: say so on the user's sockets here, not a silent 1011
            outcome = "broker_unavailable"
            log.warning("run %s of %s: %s", run_id, user_id, exc)
            await self.bridge.send_local(
                user_id,
                error_event(
                    "broker_unavailable", "the message broker is unavailable", run_id=run_id
                ),
            )
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self._metrics.run_outcome(outcome).inc()
            self._metrics.run_seconds.observe(time.perf_counter() - started)

    async def start_run(self, user_id: str, message: str, client_msg_id: str | None) -> str:
        """Start a run from HTTP; its events go to the user's open sockets."""
        if not self.ready:
            raise FactoryShutdownError("the server is not ready")
        run_id = new_run_id()
        self._spawn(user_id, run_id, new_thread_id(), UserMessage(message, client_msg_id))
        return run_id

    async def drain(self, *, grace_s: float) -> int:
        """Stop taking work, let runs finish for ``grace_s``, cancel the rest, close with 1001.

        Logs one line with what happened, the engines still active included: runs
        release their engines as they end or are cancelled, so it should say 0.
        """
        if self._draining:
            return 0  # the server's shutdown drained already; the lifespan calls again
        self._draining = True
        started = time.perf_counter()
        finished = cancelled = 0
        if self._runs:
            done, pending = await asyncio.wait(set(self._runs), timeout=grace_s)
            finished, cancelled = len(done), len(pending)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        # with Redis a finished run's last events may still be on their way back to
        # this worker's sockets: they are delivered before the 1001
        if not await self.bridge.flush(timeout_s=max(1.0, min(grace_s, 5.0))):
            log.warning("drain: events still in flight were not all delivered before 1001")
        closed = await self.bridge.close_all(CLOSE_GOING_AWAY, "server shutting down")
        if closed:
            self._metrics.ws_closes.labels(code=str(CLOSE_GOING_AWAY)).inc(closed)
        log.info(
            "drained in %.2f s: %d runs finished, %d cancelled at the %.1f s grace, "
            "%d sockets closed with 1001, %d engines active",
            time.perf_counter() - started,
            finished,
            cancelled,
            grace_s,
            closed,
            self.factory.get_factory_metrics()["active_engines_count"],
        )
        return closed

    async def shutdown(self) -> None:
        await self.drain(grace_s=0)
        await self.factory.shutdown()
        await self.bridge.stop()
        if self.broker is not None:
            await self.broker.stop()

    def factory_metrics(self) -> dict[str, Any]:
        metrics = self.factory.get_factory_metrics()
        metrics["websocket_connections"] = self.bridge.connection_count
        metrics["in_flight_runs"] = len(self._runs)
        if self.broker is not None:
            # a reconnect is a window in which events published to this worker were lost
            metrics["redis"] = {
                "healthy": self.broker.healthy,
                "listener_reconnects": self.broker.reconnects,
            }
        return metrics
