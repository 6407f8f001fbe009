"""Run the app under uvicorn, draining sockets with 1001 before uvicorn closes them."""

from __future__ import annotations

import os
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from reference_backend.config import Settings


def _find_app(app: Any) -> FastAPI | None:
    # uvicorn wraps the app in middleware; walk down to ours.
    for _ in range(16):
        if isinstance(app, FastAPI):
            return app
        app = getattr(app, "app", None)
    return None


class GracefulServer(uvicorn.Server):
    """uvicorn closes open sockets with 1012 on shutdown; drain them with 1001 first."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = _find_app(self.config.loaded_app)
        runtime = getattr(app.state, "runtime", None) if app is not None else None
        if runtime is not None:
            await runtime.service.drain(grace_s=runtime.settings.shutdown_grace_s)
        await super().shutdown(sockets)


def serve(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "ws_max_size": settings.ws_max_message_bytes,
        "timeout_graceful_shutdown": settings.shutdown_grace_s + 5,
        "lifespan": "on",
    }
    if settings.workers > 1:
        # Workers import the app afresh and read the settings from the environment.
        # uvicorn's own worker supervisor runs them; on shutdown its workers close
        # sockets with 1012 (service restart) rather than draining with 1001.
        for name, value in settings.model_dump().items():
            os.environ[f"GOLDENPATH_{name.upper()}"] = str(value)
        uvicorn.run(
            "reference_backend.main:create_app", factory=True, workers=settings.workers, **common
        )
        return 0
    from reference_backend.main import create_app

    config = uvicorn.Config(create_app(settings), **common)
    GracefulServer(config).run()
    return 0
