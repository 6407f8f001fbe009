"""``create_app()``: the FastAPI app, with the factory and bridge built in its lifespan."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_backend import __version__
from reference_backend.agent import build_model
from reference_backend.api import auth, chat, health, ws
from reference_backend.audit import AuditTrail
from reference_backend.config import Settings
from reference_backend.db import open_database
from reference_backend.legacy.races import CAUSES, RACES
from reference_backend.metrics import Metrics
from reference_backend.ratelimit import LoginLimiter, RedisLoginLimiter
from reference_backend.runtime import Runtime
from reference_backend.service import CanonicalService, GoldenPathService

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the one factory and the one bridge; on exit close sockets with 1001 and clean up."""
    settings: Settings = app.state.settings
    db = open_database(settings.database_url)
    metrics = Metrics(legacy_races=RACES, legacy_causes=CAUSES)
    model = build_model(settings)
    audit = AuditTrail(db)
    service: GoldenPathService
    if settings.factory_mode == "legacy":
        from reference_backend.legacy.service import LegacyService

        service = LegacyService(settings, db=db, model=model, metrics=metrics)
    else:
        service = CanonicalService(settings, model=model, audit=audit, metrics=metrics)
    metrics.watch_factory(service.factory_metrics)
    await audit.start()
    await service.start()
    per_user, per_address = (
        settings.login_max_failures_per_user,
        settings.login_max_failures_per_address,
    )
    window_s = settings.login_failure_window_s
    broker = getattr(service, "broker", None)
    limiter: LoginLimiter | RedisLoginLimiter
    if broker is not None:  # shared by every worker and host, as the events are
        limiter = RedisLoginLimiter(
            broker.client,
            max_failures_per_user=per_user,
            max_failures_per_address=per_address,
            window_s=window_s,
            prefix=settings.redis_prefix,
        )
    else:
        limiter = LoginLimiter(
            max_failures_per_user=per_user, max_failures_per_address=per_address, window_s=window_s
        )
    app.state.runtime = Runtime(settings, db, metrics, model, audit, service, limiter)
    log.info("ready: factory_mode=%s database=%s", settings.factory_mode, settings.database_url)
    try:
        yield
    finally:
        await service.drain(grace_s=settings.shutdown_grace_s)
        await service.shutdown()
        del app.state.runtime
        await audit.close()
        await model.aclose()
        db.close()


class WorkerHeader:
    """``X-Goldenpath-Worker: <pid>`` on every HTTP response: which worker process served it
    (``--workers N``), for operators and the scale-out tests. Pure ASGI: a few microseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (b"x-goldenpath-worker", str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The reference backend; settings default to the ``GOLDENPATH_*`` environment."""
    app = FastAPI(title="goldenpath reference backend", version=__version__, lifespan=lifespan)
    app.add_middleware(WorkerHeader)
    app.state.settings = settings if settings is not None else Settings()
    app.include_router(auth.router)
    app.include_router(chat.router)
    app.include_router(health.router)
    app.include_router(ws.router)
    return app
