"""GET /health (open to all) and GET /metrics (owner only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from hub import __version__
from hub.api.auth import require_owner
from hub.api.deps import HubDep
from hub.api.health_schemas import HealthStatus

router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


@router.get("/health")
async def read_health(hub: HubDep) -> HealthStatus:
    """Liveness, and whether a model answers: says nothing private, needs no token."""
    return HealthStatus(status="ok", version=__version__, model=hub.runner.status.state)


@router.get(
    "/metrics",
    dependencies=[Depends(require_owner)],
    response_class=Response,  # not JSON: /docs shows only the content declared below
    responses={
        200: {
            "description": "Counters and histograms in Prometheus' text format 0.0.4: "
            "requests, tokens, latency, the model queue.",
            "content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}},
        },
    },
)
async def read_metrics(hub: HubDep) -> Response:
    """Prometheus text format."""
    return Response(hub.metrics.render(), media_type=PROMETHEUS_TEXT)
