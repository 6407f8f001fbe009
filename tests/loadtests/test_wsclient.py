"""The harness's WebSocket client against a hand-written server that misbehaves on cue.

A real backend closes sockets in these ways only by chance (a drain racing a
user's next message); a raw socket server does it every time.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from loadtests.wsclient import ClosedByServer, WsConnection

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TOKEN = "e30.eyJzdWIiOiJ1In0.c2ln"  # {"sub": "u"}; the server here checks nothing


def frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One unmasked server frame (payloads under 126 bytes)."""
    return bytes([(0x80 if fin else 0) | opcode, len(payload)]) + payload


def close_frame(code: int) -> bytes:
    return frame(0x8, struct.pack("!H", code))


def read_frame(conn: socket.socket) -> tuple[int, bytes]:
    """One masked client frame: (opcode, payload)."""
    head = conn.recv(2, socket.MSG_WAITALL)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))[0]
    mask = conn.recv(4, socket.MSG_WAITALL)
    data = conn.recv(length, socket.MSG_WAITALL) if length else b""
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@contextmanager
def ws_server(script: Callable[[socket.socket], None]) -> Iterator[tuple[str, threading.Event]]:
    """A one-connection server on a free loopback port: it does the upgrade,
    then runs ``script`` on the socket; the event is set when the script is done."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        conn: socket.socket | None = None
        try:
            conn, _ = listener.accept()
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"
                b"Sec-WebSocket-Protocol: jwt-auth\r\n\r\n"
            )
            script(conn)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            if conn is not None:
                conn.close()  # a no-op after the script's own close or reset
            done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/ws", done
    finally:
        thread.join(timeout=10)
        listener.close()
    assert not errors, errors


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset (what the kernel sends when unread bytes are left)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def close_1001_then_reset(conn: socket.socket) -> None:
    conn.sendall(close_frame(1001))
    reset(conn)


def exchange(ws: WsConnection, text: str) -> int | None:
    """What the golden-path user does: send, read until the server closes; the close code."""
    with pytest.raises(ClosedByServer) as closed:
        ws.send_text(text)
        while True:
            ws.recv_text()
    return closed.value.code


def test_a_close_frame_followed_by_a_reset_keeps_its_code() -> None:
    # websocket-client answers a close frame before returning it; the answer hits
    # the reset and the code it had read was lost as a ConnectionResetError (1006)
    with ws_server(close_1001_then_reset) as (url, done):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        assert done.wait(5)
        with pytest.raises(ClosedByServer) as closed:
            ws.recv_text()
    assert closed.value.code == ws.close_code == 1001


def test_a_message_sent_after_the_servers_close_still_reads_its_code() -> None:
    # the drain's race: the server sends 1001 and closes while the user sends its next message
    def script(conn: socket.socket) -> None:
        conn.sendall(close_frame(1001))
        conn.close()

    with ws_server(script) as (url, done):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        assert done.wait(5)
        assert exchange(ws, "first") == 1001  # this send reaches a closed socket: reset


def test_a_send_that_fails_reports_the_close_frame_waiting_unread() -> None:
    with ws_server(close_1001_then_reset) as (url, done):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        assert done.wait(5)
        with pytest.raises(ClosedByServer) as closed:
            ws.send_text("hello")  # the reset is in: the send fails with ECONNRESET
        assert closed.value.code == ws.close_code == 1001


def test_a_broken_connection_without_a_close_frame_is_not_given_a_code() -> None:
    with ws_server(reset) as (url, done):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        assert done.wait(5)
        with pytest.raises(ConnectionResetError):
            ws.recv_text()
        assert ws.close() is None  # and closing it finds no code either


def test_pings_are_answered_and_fragments_joined() -> None:
    got: list[tuple[int, bytes]] = []

    def script(conn: socket.socket) -> None:
        conn.sendall(frame(0x9, b"are you there"))
        got.append(read_frame(conn))  # the pong
        conn.sendall(frame(0x1, b'{"type": ', fin=False) + frame(0x0, b'"agent_started"}'))
        conn.sendall(close_frame(1000))
        got.append(read_frame(conn))  # the close answer

    with ws_server(script) as (url, _):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        assert ws.recv_text() == '{"type": "agent_started"}'
        with pytest.raises(ClosedByServer) as closed:
            ws.recv_text()
    assert closed.value.code == 1000
    assert got[0] == (0xA, b"are you there")
    assert got[1] == (0x8, struct.pack("!H", 1000))  # answered once, with 1000


def test_a_server_that_says_nothing_is_a_builtin_timeout() -> None:
    # websocket-client raises its own WebSocketTimeoutException, which the harness's
    # `except TimeoutError` missed: every timed-out run was recorded as a broken socket
    answered = threading.Event()

    with ws_server(lambda conn: answered.wait(10)) as (url, _):
        ws = WsConnection(url, token=TOKEN, timeout_s=5)
        ws.settimeout(0.2)
        try:
            with pytest.raises(TimeoutError):
                ws.recv_text()
            assert ws.close_code is None
        finally:
            answered.set()
            ws.close()
