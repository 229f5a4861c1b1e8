"""/v1/devices: list, pair and revoke wearables, read their samples, and the devices' link."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket
from pydantic import BaseModel, Field

from devices.samples import SAMPLE_KINDS
from devices.sensor_kinds import SENSOR_KINDS, SensorKind
from hub.api.auth import require_owner
from hub.api.deps import DevicesDep
from hub.api.errors import HubAPIError
from hub.wearables.link import DeviceLink
from hub.wearables.sockets import AcceptedSocket
from hub.wearables.store import SampleQuery

router = APIRouter(prefix="/v1/devices", tags=["devices"], dependencies=[Depends(require_owner)])
# Devices do not hold the owner's token: they prove their own secret inside the protocol.
link_router = APIRouter(prefix="/v1/devices", tags=["devices"])

MAX_SAMPLES = 100_000


class PairIn(BaseModel):
    """The code the device shows."""

    code: str = Field(min_length=1, max_length=20)


class SensorPartOut(BaseModel):
    """One position of a vector kind's list."""

    name: str
    unit: str
    low: float
    high: float


class SensorKindOut(BaseModel):
    """One sensor kind: what it is called, its unit, allowed values and how it is charted."""

    name: str
    label: str
    unit: str
    description: str
    low: float = Field(description="Every number of a sample is at least this.")
    high: float = Field(description="Every number of a sample is at most this.")
    whole: bool = Field(description="Whole numbers only.")
    min_dimensions: int = Field(description="1 for a bare number, else the shortest list.")
    max_dimensions: int
    parts: list[SensorPartOut] = Field(description="A vector's positions, in order.")
    charted: bool = Field(description="The Devices page charts it.")
    chart_floor: tuple[float, float] | None = Field(description="The y range a chart shows.")
    target_band: tuple[float, float] | None = Field(description="The healthy range, if any.")

    @classmethod
    def of(cls, kind: SensorKind) -> SensorKindOut:
        """The API's view of a table entry."""
        return cls(
            name=kind.name,
            label=kind.label,
            unit=kind.unit,
            description=kind.description,
            low=kind.low,
            high=kind.high,
            whole=kind.whole,
            min_dimensions=kind.dimensions[0],
            max_dimensions=kind.dimensions[1],
            parts=[
                SensorPartOut(name=p.name, unit=p.unit, low=p.low, high=p.high) for p in kind.parts
            ],
            charted=kind.charted,
            chart_floor=kind.chart_floor,
            target_band=kind.target_band,
        )


class SensorKindList(BaseModel):
    """Every sensor kind a device may send."""

    object: str = "list"
    data: list[SensorKindOut]


@router.get("")
async def read_devices(devices: DevicesDep) -> dict[str, Any]:
    """Paired, revoked and discovered devices with status, last seen and battery."""
    return {"object": "list", "data": await devices.list_devices()}


@router.get("/kinds", response_model=SensorKindList)
async def read_sensor_kinds() -> SensorKindList:
    """The sensor kinds a device may send, with labels, units, ranges and chart settings."""
    return SensorKindList(data=[SensorKindOut.of(kind) for kind in SENSOR_KINDS])


@router.get("/{device_id}/samples")
async def read_samples(
    device_id: str,
    devices: DevicesDep,
    kind: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = 1000,
    resolution: Annotated[str, Query(pattern="^(raw|1m|1h)$")] = "raw",
) -> dict[str, Any]:
    """Samples of one device, oldest first; ``since``/``until`` are Unix seconds.

    ``resolution`` 1m or 1h gives per-minute or per-hour count, mean, min, max and sum.
    """
    if kind is not None and kind not in SAMPLE_KINDS:
        raise HubAPIError(
            400,
            f"unknown sample kind {kind!r}; use one of {', '.join(sorted(SAMPLE_KINDS))}",
            param="kind",
        )
    query = SampleQuery(device_id, kind, since, until, limit, resolution)
    data = await devices.samples(query)
    return {"object": "list", "device_id": device_id, "resolution": resolution, "data": data}


@router.post("/{device_id}/pair")
async def create_pairing(device_id: str, body: PairIn, devices: DevicesDep) -> dict[str, Any]:
    """Approve a device waiting to pair with the code it shows."""
    await devices.pair(device_id, body.code)
    return {"id": device_id, "status": "paired"}


@router.post("/{device_id}/revoke")
async def revoke_device(device_id: str, devices: DevicesDep) -> dict[str, Any]:
    """Cut a device off at once: its keys are forgotten and its open link closed."""
    await devices.revoke(device_id)
    return {"id": device_id, "status": "revoked"}


@link_router.websocket("/link")
async def device_link(websocket: WebSocket, devices: DevicesDep) -> None:
    """A device dials in here; the protocol is in docs/device-protocol.md."""
    await websocket.accept()
    await DeviceLink(AcceptedSocket(websocket), devices).run()
