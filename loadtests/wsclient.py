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
from urllib.parse import urlsplit

import websocket
from websocket import ABNF


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
    """One client socket: ``send_text``, ``recv_text`` (raises ClosedByServer), ``close``."""

    def __init__(
        self, url: str, *, token: str, timeout_s: float, source_index: int = 0, sources: int = 1
    ) -> None:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        src = source_address(host, source_index, sources)
        options: dict[str, object] = {
            "timeout": timeout_s,
            "subprotocols": jwt_subprotocols(token),
            "enable_multithread": False,
        }
        if src is not None:
            sock = socket.create_connection((host, port), timeout_s, source_address=(src, 0))
            options["socket"] = sock
        self._ws = websocket.create_connection(url, **options)
        self.close_code: int | None = None

    def send_text(self, text: str) -> None:
        self._ws.send(text)

    def settimeout(self, seconds: float) -> None:
        self._ws.settimeout(seconds)

    def recv_text(self) -> str:
        while True:
            opcode, data = self._ws.recv_data(control_frame=True)
            if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                return data.decode(errors="replace") if isinstance(data, bytes) else str(data)
            if opcode == ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                self.close_code = code
                self._finish()
                raise ClosedByServer(code)
            # ping/pong frames are answered by the library; keep reading

    def _finish(self) -> None:
        # Answer the server's close frame and drop the socket. (websocket-client's
        # own close() swallows every exception, GreenletExit too, which would
        # keep a user Locust is stopping alive.)
        try:
            self._ws.send_close(websocket.STATUS_NORMAL)
        except Exception:  # noqa: S110 - the peer is gone; nothing left to do
            pass
        self._ws.shutdown()

    def close(self) -> int | None:
        """Close from our side; returns the code the server answered with, if it did."""
        if self.close_code is None:
            try:
                self._ws.send_close(websocket.STATUS_NORMAL)
                self._ws.settimeout(2)
                while True:
                    opcode, data = self._ws.recv_data(control_frame=True)
                    if opcode == ABNF.OPCODE_CLOSE:
                        self.close_code = (
                            struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                        )
                        break
            except Exception:  # noqa: S110 - a peer that never answers: code stays None
                pass
        self._ws.shutdown()
        return self.close_code
