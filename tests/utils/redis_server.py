"""A real Redis for the tests: Debian's ``redis-server`` on a free 127.0.0.1 port.

Its own directory, persistence off, ended by its PID. ``.ci/run`` installs
``redis-server`` when it is missing; without it the tests that need Redis skip
(fail in CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import pytest

from tests.utils.processes import end_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """``redis-server`` in a child process; ``stop()`` and ``start()`` again keep the port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            reason = "Debian's redis-server is not installed (apt-get install redis-server)"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="goldenpath-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        log = open(Path(self._dir.name) / "redis.log", "ab")  # noqa: SIM115 - closed by the child
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", self._dir.name]  # fmt: skip
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        """End it by PID (SIGTERM, then SIGKILL)."""
        proc, self.process = self.process, None
        if proc is not None:
            end_process(proc, timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._dir.cleanup()
