"""/v1/devices: list, pair and revoke wearables, read their samples, and the devices' link."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, WebSocket

from devices.samples import SAMPLE_KINDS
from devices.sensor_kinds import SENSOR_KINDS
from hub.api.auth import require_owner
from hub.api.deps import DevicesDep
from hub.api.devices_schemas import (
    DeviceList,
    DeviceOut,
    DeviceStatusOut,
    PairIn,
    SampleList,
    SensorKindList,
    SensorKindOut,
)
from hub.api.errors import HubAPIError
from hub.api.scopes import require_scope
from hub.wearables.link import DeviceLink
from hub.wearables.sockets import AcceptedSocket
from hub.wearables.store import SampleQuery

router = APIRouter(prefix="/v1/devices", tags=["devices"], dependencies=[Depends(require_owner)])
# What a client program may read with its scopes (hub/api/scopes.py); changing stays the owner's.
read_router = APIRouter(prefix="/v1/devices", tags=["devices"])
# Devices do not hold the owner's token: they prove their own secret inside the protocol.
link_router = APIRouter(prefix="/v1/devices", tags=["devices"])

MAX_SAMPLES = 100_000


@read_router.get("", dependencies=[Depends(require_scope("devices:read"))])
async def read_devices(devices: DevicesDep) -> DeviceList:
    """Paired, revoked and discovered devices with status, last seen and battery."""
    listings = await devices.list_devices()
    return DeviceList(data=[DeviceOut.from_domain(listing) for listing in listings])


@read_router.get(
    "/kinds",
    response_model=SensorKindList,
    dependencies=[Depends(require_scope("devices:read", "sensors:read"))],
)
async def read_sensor_kinds() -> SensorKindList:
    """The sensor kinds a device may send, with labels, units, ranges and chart settings."""
    return SensorKindList(data=[SensorKindOut.of(kind) for kind in SENSOR_KINDS])


@read_router.get("/{device_id}/samples", dependencies=[Depends(require_scope("sensors:read"))])
async def read_samples(
    device_id: str,
    devices: DevicesDep,
    kind: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = 1000,
    resolution: Annotated[Literal["raw", "1m", "1h"], Query()] = "raw",
) -> SampleList:
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
    return SampleList(device_id=device_id, resolution=resolution, data=data)


@router.post("/{device_id}/pair")
async def create_pairing(device_id: str, body: PairIn, devices: DevicesDep) -> DeviceStatusOut:
    """Approve a device waiting to pair with the code it shows."""
    await devices.pair(device_id, body.code)
    return DeviceStatusOut(id=device_id, status="paired")


@router.post("/{device_id}/revoke")
async def revoke_device(device_id: str, devices: DevicesDep) -> DeviceStatusOut:
    """Cut a device off at once: its keys are forgotten and its open link closed."""
    await devices.revoke(device_id)
    return DeviceStatusOut(id=device_id, status="revoked")


@link_router.websocket("/link")
async def device_link(websocket: WebSocket, devices: DevicesDep) -> None:
    """A device dials in here; the protocol is in docs/device-protocol.md."""
    if websocket.headers.get("origin") is not None:
        # Browsers always send Origin, devices never do: no web page may open a device link.
        await websocket.close(code=1008, reason="device links do not come from web pages")
        return
    if not devices.begin_handshake():
        # Before anyone proved anything the hub gives only so many sockets; the device retries.
        await websocket.close(code=1013, reason="too many device links in their handshake")
        return
    try:
        await websocket.accept()
    except BaseException:
        devices.end_handshake()
        raise
    await DeviceLink(AcceptedSocket(websocket), devices).run()
