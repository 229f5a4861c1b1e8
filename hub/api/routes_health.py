"""GET /health (open to all) and GET /metrics (owner only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from hub import __version__
from hub.api.auth import require_owner
from hub.api.deps import HubDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def read_health() -> dict[str, Any]:
    """Liveness: says nothing private, needs no token."""
    return {"status": "ok", "version": __version__}


@router.get("/metrics", dependencies=[Depends(require_owner)])
async def read_metrics(hub: HubDep) -> Response:
    """Prometheus text format."""
    return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4")
