"""POST /bridges/health-auto-export: the Health Auto Export app's REST API automation posts the
iPhone's health metrics here, with a ``health-auto-export`` bridge's secret in an
``Authorization: Bearer`` header (the app's automation takes custom headers) or ``?token=``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from hub.api.bridge_secret import presented_secret
from hub.api.deps import BridgesDep
from hub.api.errors import HubAPIError
from hub.bridges.errors import InvalidReadingError
from hub.bridges.health_auto_export import parse_metrics
from hub.bridges.upload_body import load_upload_json

KIND = "health-auto-export"
SHOWN_REFUSALS = 20

router = APIRouter(prefix="/bridges", tags=["bridges"])


class MetricsStoredOut(BaseModel):
    """What became of one post."""

    received: int = Field(description="Readings of kept metrics in the post.")
    stored: int = Field(description="Of those, how many were new (the others were sent before).")
    ignored: dict[str, int] = Field(description="Data points of metrics the hub does not keep.")
    refused: list[str] = Field(description="Points with impossible values, each named and why.")


@router.post("/health-auto-export")
async def create_health_metrics(request: Request, bridges: BridgesDep) -> MetricsStoredOut:
    """Store heart rate, steps, blood glucose and blood oxygen not stored before."""
    presented = presented_secret(request)
    bridge = await bridges.find(presented, KIND) if presented else None
    if bridge is None:
        raise HubAPIError(
            401,
            (
                "this secret opens no working Health Auto Export bridge of this hub"
                if presented
                else "no secret"
            )
            + ": in the automation, add the header 'Authorization: Bearer <secret>' (or end the "
            "URL with ?token=<secret>), the secret `hub bridges add health-auto-export` printed",
            code="invalid_api_key",
        )
    payload = load_upload_json(await request.body(), request.headers.get("content-encoding", ""))
    upload = parse_metrics(payload)
    if upload.refused and not upload.samples:
        raise InvalidReadingError(
            "no reading could be stored: "
            + "; ".join(upload.refused[:5])
            + (f"; and {len(upload.refused) - 5} more" if len(upload.refused) > 5 else "")
        )
    if upload.samples:
        stored = await bridges.store_samples(bridge.id, upload.samples)
    else:
        stored = 0
        await bridges.touch(bridge.id)
    refused = upload.refused[:SHOWN_REFUSALS]
    if len(upload.refused) > SHOWN_REFUSALS:
        refused.append(f"and {len(upload.refused) - SHOWN_REFUSALS} more")
    return MetricsStoredOut(
        received=len(upload.samples),
        stored=stored,
        ignored=dict(upload.ignored),
        refused=refused,
    )
