"""Liveness, readiness, Prometheus metrics and the factory's own metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from reference_backend.api.deps import RuntimeDep, documented

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str
    factory_mode: str
    draining: bool


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Starting or draining"}},
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the factory and the bridge are built and the server is not draining."""
    service = runtime.service
    body = {
        "status": "ready" if service.ready else "not_ready",
        "factory_mode": service.mode,
        "draining": service.draining,
    }
    return JSONResponse(body, status_code=200 if service.ready else 503)


# Documented as text/plain: the Prometheus exposition format, not JSON.
@router.get("/metrics", response_class=PlainTextResponse, responses=documented(503))
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/factory/metrics", responses=documented(503))
async def factory_metrics(runtime: RuntimeDep) -> dict[str, Any]:
    """The factory's ``get_factory_metrics()`` as JSON."""
    return runtime.service.factory_metrics()
