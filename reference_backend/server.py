"""Run the app under uvicorn, draining sockets with 1001 before uvicorn closes them."""

from __future__ import annotations

import copy
import logging
import os
import re
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import multiprocess

from reference_backend.config import Settings


def _find_app(app: Any) -> FastAPI | None:
    # uvicorn wraps the app in middleware; walk down to ours.
    for _ in range(16):
        if isinstance(app, FastAPI):
            return app
        app = getattr(app, "app", None)
    return None


_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])token=)[^&\s\"]*")


class RedactTokens(logging.Filter):
    """Blank ``?token=...`` in uvicorn's log lines: its WebSocket and access logs print
    the full query string, and a token in a log is a token anyone with the logs can use."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1[redacted]", record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging config with RedactTokens on its handlers (workers rebuild it too)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": f"{__name__}.RedactTokens"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    return config


class GracefulServer(uvicorn.Server):
    """uvicorn closes open sockets with 1012 on shutdown; drain them with 1001 first."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = _find_app(self.config.loaded_app)
        runtime = getattr(app.state, "runtime", None) if app is not None else None
        if runtime is not None:
            await runtime.service.drain(grace_s=runtime.settings.shutdown_grace_s)
        await super().shutdown(sockets)


class GracefulProcess(multiprocess.Process):
    """A uvicorn worker process whose server drains with 1001, as one process does.

    uvicorn's supervisor builds a plain ``Server`` in each worker, which closes sockets
    with 1012 on SIGTERM. The worker object is pickled into the child process, so its
    server class travels with it.
    """

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = GracefulServer(config=self.config)
        return self._server


def serve(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_max_queue": settings.ws_max_queue,
        # Pings find half-open sockets (a client that vanished without closing).
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        "log_config": log_config(),
        "timeout_graceful_shutdown": settings.shutdown_grace_s + 5,
        "lifespan": "on",
    }
    if settings.workers > 1:
        # Workers import the app afresh and read the settings from the environment.
        # uvicorn's supervisor runs them, each with a GracefulServer: SIGTERM drains every
        # worker's sockets with 1001 (uvicorn's own workers would close them with 1012).
        for name, value in settings.model_dump().items():
            if value is not None:
                os.environ[f"GOLDENPATH_{name.upper()}"] = str(value)
        config = uvicorn.Config(
            "reference_backend.main:create_app", factory=True, workers=settings.workers, **common
        )
        multiprocess.Process = GracefulProcess  # type: ignore[misc]
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    from reference_backend.main import create_app

    config = uvicorn.Config(create_app(settings), **common)
    GracefulServer(config).run()
    return 0
