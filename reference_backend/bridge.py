"""The one WebSocket bridge: per-user connection sets, built once in the lifespan.

Every registry change is a plain dict/set update with no ``await`` in between,
so on one event loop it is atomic: there is no window for another request to
see or overwrite a half-made change (the legacy bridge has such windows).

Sending is the hot path (five events per agent run), so it costs little: a
frame is serialized with orjson, and the deadline for slow readers is kept by
one watchdog per bridge rather than a timer per event. A send returns at once
unless the socket's write buffer is full (the client stopped reading); the
watchdog cancels a send that has been blocked past ``send_timeout_s``, and the
socket is closed with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.websockets import WebSocket, WebSocketState

from reference_backend.broker import RedisBroker
from reference_backend.events import Event

log = logging.getLogger(__name__)

Emitter = Callable[[Event], Awaitable[int]]

# Sent when a client stops reading. 1008 (policy violation) rather than 1011:
# the server is fine, the client broke the rule that it must keep reading.
CLOSE_TOO_SLOW = 1008
DEFAULT_SEND_TIMEOUT_S = 10.0


class SlowConsumerError(Exception):
    """A send did not finish within the connection's send timeout; the socket is being closed."""


class Connection:
    """One accepted socket of one user; stamps ``seq`` per connection."""

    _ids = itertools.count(1)

    def __init__(
        self, websocket: WebSocket, user_id: str, *, send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
    ) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.id = next(self._ids)
        self._seq = 0
        self._send_lock = asyncio.Lock()
        self._send_timeout_s = send_timeout_s
        self._closing: asyncio.Task[None] | None = None
        self.closed = False
        # the send in progress: when it began (loop time) and its task, for the watchdog
        self._since: float | None = None
        self._sender: asyncio.Task[object] | None = None
        self._expired = False

    async def send(self, event: Event) -> None:
        """Send one event; concurrent runs on one socket never interleave a frame.

        Raises SlowConsumerError when the event could not be handed over within the
        send timeout (waiting behind a blocked send included): the socket is then closed.
        """
        async with self._send_lock:
            if self._expired:
                raise SlowConsumerError("the socket was closed: a send did not finish in time")
            self._seq += 1
            frame = orjson.dumps({**event, "seq": self._seq}).decode()
            self._sender = asyncio.current_task()
            self._since = asyncio.get_running_loop().time()
            try:
                await self.websocket.send_text(frame)
            except asyncio.CancelledError:
                if not self._expired or self._sender is None:
                    raise
                # the watchdog's cancel: the client stopped reading (or its network did),
                # its buffers are full, and every later send would block a run of this user.
                # A cancel from elsewhere too (shutdown) is passed on, not swallowed.
                if self._sender.uncancel() > 0:
                    raise
                self._close_in_background(CLOSE_TOO_SLOW, "too slow")
                raise SlowConsumerError(
                    f"send did not finish in {self._send_timeout_s} s"
                ) from None
            finally:
                self._since = self._sender = None

    def check_deadline(self, now: float) -> None:
        """Cancel a send that has been blocked past the send timeout (the watchdog's call)."""
        if self._since is not None and not self._expired:
            if now - self._since >= self._send_timeout_s and self._sender is not None:
                self._expired = True
                self._sender.cancel()

    def _close_in_background(self, code: int, reason: str) -> None:
        # The close frame queues behind the unread data, so closing can itself
        # take the server's close timeout; the run that noticed must not wait for it.
        if self._closing is None and not self.closed:
            self._closing = asyncio.create_task(self.close(code, reason))

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        if self.websocket.application_state == WebSocketState.CONNECTED:
            try:
                await self.websocket.close(code=code, reason=reason)
            except RuntimeError:  # the client went first
                pass


class WebSocketBridge:
    """Routes a user's events to that user's open sockets, and to no one else's."""

    def __init__(
        self,
        *,
        send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
        on_slow_consumer: Callable[[Connection], None] | None = None,
        on_cross_user: Callable[[str, str], None] | None = None,
    ) -> None:
        # per user, its sockets in the order they opened (a dict used as an ordered set)
        self._by_user: dict[str, dict[Connection, None]] = {}
        self._send_timeout_s = send_timeout_s
        self._on_slow_consumer = on_slow_consumer
        self._on_cross_user = on_cross_user
        self._watchdog: asyncio.Task[None] | None = None
        # With a broker (Redis) events go through it, to every worker with a socket of the
        # user; without one they go straight to this process's sockets.
        self.broker: RedisBroker | None = None
        self._deliveries: set[asyncio.Task[int]] = set()

    def start(self) -> None:
        """Start the watchdog that keeps the send deadline (the lifespan calls it)."""
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="bridge-send-watchdog")

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait until every event published so far has been handed to this process's
        sockets (a drain calls it before closing them); False when that took too long.

        With a broker an event travels through Redis and comes back to the listener,
        so ending a run is not the same as its last frame reaching the socket.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self.broker is not None and not await self.broker.barrier(timeout_s):
            return False
        pending = set(self._deliveries)
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        return not late

    async def _watch(self) -> None:
        # a quarter of the timeout, at most a second: a blocked send is cut off within
        # 1.25x the timeout, for the price of one pass over the sockets a second
        interval = min(1.0, self._send_timeout_s / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for conns in list(self._by_user.values()):
                for conn in list(conns):
                    conn.check_deadline(now)

    @property
    def connection_count(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())

    @property
    def user_count(self) -> int:
        return len(self._by_user)

    def connections_of(self, user_id: str) -> frozenset[Connection]:
        return frozenset(self._by_user.get(user_id, ()))

    def register(self, websocket: WebSocket, user_id: str) -> Connection:
        conn = Connection(websocket, user_id, send_timeout_s=self._send_timeout_s)
        self._by_user.setdefault(user_id, {})[conn] = None
        return conn

    def unregister(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is None:
            return
        conns.pop(conn, None)
        if not conns:
            del self._by_user[conn.user_id]

    async def send_to_user(self, user_id: str, event: Event) -> int:
        """Send ``event`` to every open socket of ``user_id``: this process's, or through the
        broker every worker's. Returns how many sockets (workers, with a broker) got it.

        An event that names another user is never sent (defence in depth: the
        factory binds each engine to its user, so this should never happen); it is
        logged and reported to ``on_cross_user(target, owner)``. With a broker that
        cannot be reached it raises ``BrokerUnavailable``.
        """
        owner = event.get("user_id")
        if owner is not None and owner != user_id:
            log.error("refused an event of user %s addressed to user %s", owner, user_id)
            if self._on_cross_user is not None:
                self._on_cross_user(user_id, str(owner))
            return 0
        if self.broker is not None:
            return await self.broker.publish(user_id, orjson.dumps(event))
        return await self.send_local(user_id, event)

    def deliver_published(self, user_id: str, payload: bytes) -> None:
        """An event the broker delivered: send it to this process's sockets of the user.

        A task per event, so a slow reader cannot hold up the broker's listener; the
        send lock of each socket is FIFO, so events keep their order.
        """
        task = asyncio.create_task(self.send_local(user_id, orjson.loads(payload)))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def send_local(self, user_id: str, event: Event) -> int:
        """Send ``event`` to this process's open sockets of ``user_id``."""
        delivered = 0
        for conn in list(self._by_user.get(user_id, ())):
            try:
                await conn.send(event)
                delivered += 1
            except SlowConsumerError as exc:
                # Several runs may time out on the same socket: report it once.
                if conn in self._by_user.get(user_id, ()):
                    log.info("closing connection %s of %s: %s", conn.id, user_id, exc)
                    self.unregister(conn)
                    if self._on_slow_consumer is not None:
                        self._on_slow_consumer(conn)
            except Exception as exc:  # a socket that died mid-send is dropped, not fatal
                log.debug("dropping connection %s of %s: %r", conn.id, user_id, exc)
                self.unregister(conn)
        return delivered

    def emitter_for(self, user_id: str) -> Emitter:
        """A send function bound to one user: an engine can reach no other user."""

        async def emit(event: Event) -> int:
            return await self.send_to_user(user_id, event)

        return emit

    async def close_all(self, code: int, reason: str) -> int:
        """Close every socket with ``code`` (1001 on shutdown); returns how many."""
        conns = [c for conns in self._by_user.values() for c in conns]
        self._by_user.clear()
        await asyncio.gather(*(c.close(code, reason) for c in conns), return_exceptions=True)
        return len(conns)
