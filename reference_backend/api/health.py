"""Liveness, readiness, Prometheus metrics and the factory's own metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reference_backend.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the factory and the bridge are built and the server is not draining."""
    service = runtime.service
    body = {
        "status": "ready" if service.ready else "not_ready",
        "factory_mode": service.mode,
        "draining": service.draining,
    }
    return JSONResponse(body, status_code=200 if service.ready else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/factory/metrics")
async def factory_metrics(runtime: RuntimeDep) -> dict[str, Any]:
    """The factory's ``get_factory_metrics()`` as JSON."""
    return runtime.service.factory_metrics()
