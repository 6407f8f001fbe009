"""A WebSocket client (websocket-client) that reports close codes and spreads source addresses.

Loopback connections from one source address to one port run out of ephemeral
ports near 28,000; binding client sockets to 127.0.0.2, 127.0.0.3, ... gives
each address its own range.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import struct
from contextlib import suppress
from urllib.parse import urlsplit

import websocket
from websocket import ABNF, WebSocketTimeoutException


def jwt_subprotocols(token: str) -> list[str]:
    """``["jwt-auth", "jwt.<base64url token>"]``: what the original browser client sent."""
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return ["jwt-auth", f"jwt.{encoded}"]


def token_subject(token: str) -> str:
    """The ``sub`` claim of a JWT, read without verifying it (the server did that)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims.get("sub", ""))


def ws_url(base_url: str) -> str:
    scheme = "wss" if base_url.startswith("https") else "ws"
    return f"{scheme}://{base_url.split('://', 1)[1].rstrip('/')}/ws"


def source_address(host: str, index: int, count: int) -> str | None:
    """The loopback source address for client ``index`` (None: let the OS choose)."""
    if count <= 1:
        return None
    try:
        target = ipaddress.ip_address(host)
    except ValueError:
        return None
    if target.version != 4 or not target.is_loopback:
        return None  # only loopback has a whole /8 of our own addresses
    return f"127.0.0.{1 + index % count}"


class ClosedByServer(Exception):
    """The server sent a close frame; ``code`` is its close code (None if absent)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed by server with {code}")
        self.code = code


class WsConnection:
    """One client socket: ``send_text``, ``recv_text``, ``close``.

    Both raise ClosedByServer when the server has closed the socket and the
    builtin TimeoutError when the timeout set by ``settimeout`` passes.

    Messages read on the way to a close frame (by ``close``, or by a failed
    send looking for the server's close) are kept in ``unread``, in order, for
    the caller to check: ``take_unread`` hands them over. Nothing is dropped.
    """

    def __init__(
        self, url: str, *, token: str, timeout_s: float, source_index: int = 0, sources: int = 1
    ) -> None:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        src = source_address(host, source_index, sources)
        sock = None
        if src is not None:
            sock = socket.create_connection((host, port), timeout_s, source_address=(src, 0))
        self._ws = websocket.create_connection(
            url,
            timeout=timeout_s,
            subprotocols=jwt_subprotocols(token),
            enable_multithread=False,
            socket=sock,  # None: websocket-client opens its own
        )
        self.close_code: int | None = None
        self.unread: list[str] = []
        self._close_sent = False

    def take_unread(self) -> list[str]:
        """The messages read while looking for a close frame, oldest first (then forgotten)."""
        frames, self.unread = self.unread, []
        return frames

    def send_text(self, text: str) -> None:
        """Send one text frame; raises ClosedByServer if the server had closed the socket."""
        try:
            self._ws.send(text)
        except WebSocketTimeoutException as exc:
            raise TimeoutError(str(exc)) from None
        except Exception as failed:
            # A server that closed the socket (close frame, then FIN) answers our
            # next bytes with a reset, and the send fails. Its close frame may be
            # waiting unread: report that code rather than a broken connection.
            try:
                self._ws.settimeout(1)
                code = self._read_close()
            except Exception:
                raise failed from None
            self._ws.shutdown()
            raise ClosedByServer(code) from None

    def settimeout(self, seconds: float) -> None:
        self._ws.settimeout(seconds)

    def recv_text(self) -> str:
        while True:
            opcode, data = self._next_frame()
            if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                return _text(data)
            if opcode == ABNF.OPCODE_CLOSE:
                self.close_code = _close_code(data)
                self._finish()
                raise ClosedByServer(self.close_code)

    def _next_frame(self) -> tuple[int, bytes | str]:
        """The next whole message, or a close frame, as (opcode, payload).

        websocket-client's ``recv_data`` answers a close frame itself before it
        returns it, and if that answer fails (the server has already reset the
        connection) the close code it read is lost in the exception. So frames
        are read here, and the close is answered by ``_finish`` after its code is
        recorded. Pings are answered; pongs are skipped.
        """
        ws = self._ws
        while True:
            try:
                frame = ws.recv_frame()
            except WebSocketTimeoutException as exc:
                # not a builtin TimeoutError: callers' `except TimeoutError` missed
                # it and a run that timed out was recorded as a broken socket (1006)
                raise TimeoutError(str(exc)) from None
            if frame.opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT):
                ws.cont_frame.validate(frame)
                ws.cont_frame.add(frame)
                if ws.cont_frame.is_fire(frame):
                    opcode, whole = ws.cont_frame.extract(frame)
                    return opcode, whole.data
            elif frame.opcode == ABNF.OPCODE_CLOSE:
                return frame.opcode, frame.data
            elif frame.opcode == ABNF.OPCODE_PING:
                with suppress(Exception):  # a dead socket: the next read says how it ended
                    ws.pong(frame.data)

    def _read_close(self) -> int | None:
        """Read up to the server's close frame, keeping messages in ``unread``; record its
        code."""
        while True:
            opcode, data = self._next_frame()
            if opcode == ABNF.OPCODE_CLOSE:
                self.close_code = _close_code(data)
                return self.close_code
            self.unread.append(_text(data))

    def _finish(self) -> None:
        # Answer the server's close frame and drop the socket. (websocket-client's
        # own close() swallows every exception, GreenletExit too, which would
        # keep a user Locust is stopping alive.)
        try:
            self._ws.send_close(websocket.STATUS_NORMAL)
        except Exception:  # noqa: S110 - the peer is gone; nothing left to do
            pass
        self._ws.shutdown()

    def abort(self) -> None:
        """Drop the socket without a close handshake (it broke, or the server closed it)."""
        with suppress(Exception):
            self._ws.shutdown()

    def close(self, timeout_s: float = 2.0) -> int | None:
        """Close from our side; returns the code the server answered with, if it did.

        Messages still arriving before the server's close frame go to ``unread``; each
        read waits up to ``timeout_s``. Called again after an interruption (the load
        ending while it waited), it reads on to the server's close without sending a
        second close frame.
        """
        if self.close_code is None:
            if not self._close_sent:
                self._close_sent = True
                with suppress(Exception):  # a reset socket: what it still holds is read below
                    self._ws.send_close(websocket.STATUS_NORMAL)
            try:
                self._ws.settimeout(timeout_s)
                self._read_close()
            except Exception:  # noqa: S110 - a peer that never answers: code stays None
                pass
        self._ws.shutdown()
        return self.close_code


def _text(data: bytes | str) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


def _close_code(payload: bytes | str) -> int | None:
    data = payload.encode() if isinstance(payload, str) else payload
    return int(struct.unpack("!H", data[:2])[0]) if len(data) >= 2 else None
