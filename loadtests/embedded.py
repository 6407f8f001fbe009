"""Start the reference backend as a child process on 127.0.0.1, and stop it by its PID.

The harness treats the backend as a black box: this module only runs
``python -m reference_backend`` and talks to it over HTTP.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

_LISTENING = re.compile(r"Uvicorn running on http://([^\s:]+|\[[^\]]+\]):(\d+)")
# uvicorn's INFO line, one per worker, once its lifespan startup is done (the backend
# builds its factory and connects Redis there)
_STARTED = re.compile(r"Application startup complete\.")


class BackendError(RuntimeError):
    """The embedded backend could not be started or provisioned."""


class EmbeddedBackend:
    """The reference backend in a child process; use as a context manager.

    Parameters:
        factory: ``canonical`` or ``legacy``.
        users: provision ``{prefix}0 .. {prefix}{users-1}`` with ``password`` first.
        settings: extra ``GOLDENPATH_*`` settings, e.g. ``{"agent_think_ms": 20}``.
        log_path: where the backend's log goes (default: a temporary file).
        startup_timeout_s: how long to wait for ``/ready``.
        workers: uvicorn worker processes (``--workers``). ``start()`` returns once every
            worker has finished its startup, not when the first answers ``/ready``: a
            worker still starting fails on its own (Redis gone, say), and uvicorn then
            stops the whole server.
        port: the port to listen on; 0 (the default) takes a free one. A fixed port
            lets a restarted backend come back at the same URL.
    """

    def __init__(
        self,
        *,
        factory: str = "canonical",
        users: int = 0,
        prefix: str = "load",
        password: str = "load-password",  # noqa: S107 - throwaway load-test users
        settings: Mapping[str, object] | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 30.0,
        extra_args: Sequence[str] = (),
        port: int = 0,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        named = [a.split("=")[0] for a in extra_args] + [k.lower() for k in settings or {}]
        if "--workers" in named or "workers" in named:
            raise ValueError("pass workers=N, not --workers in extra_args or settings")
        self.factory = factory
        self.users = users
        self.prefix = prefix
        self.password = password
        self.settings = dict(settings or {})
        self._tmp = tempfile.TemporaryDirectory(prefix="goldenpath-backend-")
        self.log_path = log_path or Path(self._tmp.name) / "backend.log"
        self.database_url = str(
            self.settings.pop("database_url", f"sqlite:///{Path(self._tmp.name) / 'app.db'}")
        )
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args)
        self.port = port
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log_file: object = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["GOLDENPATH_DATABASE_URL"] = self.database_url
        env["GOLDENPATH_FACTORY_MODE"] = self.factory
        # Load users are hashed cheaply so a run measures the platform, not scrypt.
        env.setdefault("GOLDENPATH_KDF_LOG2_N", "8")
        env.setdefault("GOLDENPATH_ACCESS_LOG", "false")
        # uvicorn's "running on" line (INFO) names the port: a caller's quieter level
        # for its own backend must not hide it.
        env["GOLDENPATH_LOG_LEVEL"] = "info"
        for key, value in self.settings.items():
            env[f"GOLDENPATH_{key.upper()}"] = str(value)
        if env["GOLDENPATH_LOG_LEVEL"].lower() not in ("debug", "info"):
            env["GOLDENPATH_LOG_LEVEL"] = "info"  # the lines read below are INFO
        env.pop("GOLDENPATH_WORKERS", None)  # workers=N says how many, and is waited for
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def provision(self) -> None:
        if self.users <= 0:
            return
        cmd = [sys.executable, "-m", "reference_backend", "users", "create"]
        cmd += ["--count", str(self.users), "--prefix", self.prefix, "--password", self.password]
        cmd += ["--if-exists", "replace"]
        done = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=300)  # noqa: S603
        if done.returncode != 0:
            raise BackendError(f"provisioning users failed: {done.stderr.strip()[-300:]}")

    def start(self) -> EmbeddedBackend:
        self.provision()
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        cmd = [sys.executable, "-m", "reference_backend", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), *self.extra_args]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        self.process = subprocess.Popen(  # noqa: S603
            cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            self.url = self._wait_listening()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> str:
        if self.port:  # a port of our choosing: no need to read it off the log
            return f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None, "start() launches the process before reading its port"
            if self.process.poll() is not None:
                raise BackendError(f"backend exited with {self.process.returncode}: {self.tail()}")
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return f"http://{match.group(1)}:{match.group(2)}"
            time.sleep(0.05)
        raise BackendError(f"backend did not start within {self.startup_timeout_s}s: {self.tail()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BackendError(f"backend exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200 and (
                    self.workers == 1 or self._workers_started() >= self.workers
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise BackendError(f"backend not ready within {self.startup_timeout_s}s")

    def _workers_started(self) -> int:
        """How many worker processes have finished their startup (uvicorn logs each)."""
        return len(_STARTED.findall(self.log_path.read_text(errors="replace")))

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def terminate(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM (graceful: sockets get 1001), then SIGKILL after ``timeout_s``."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL now: the backend dies mid-run, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        try:
            self.terminate()
        finally:
            if self._log_file is not None:
                self._log_file.close()  # type: ignore[attr-defined]
                self._log_file = None

    def cleanup(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> EmbeddedBackend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
