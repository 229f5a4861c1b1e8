"""Request bodies and answers of the /v1/devices endpoints, as /docs shows them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from devices.sensor_kinds import SensorKind
from hub.wearables.listing import DeviceListing
from hub.wearables.rollups import SampleRollup
from hub.wearables.store import DeviceRecord, StoredSample


class PairIn(BaseModel):
    """The code the device shows."""

    code: str = Field(min_length=1, max_length=20)


class StreamRatesOut(BaseModel):
    """What a device streamed over the last minute."""

    model_config = ConfigDict(from_attributes=True)

    window_s: int = Field(
        description="Seconds the rates are averaged over: a minute, or the time since the hub "
        "first stored anything of the device when that is shorter."
    )
    samples_per_s: dict[str, float] = Field(
        description="Samples per second by sample kind; kinds not sent in the window are left out."
    )
    frames_per_s: dict[str, float] = Field(
        description="Frames per second by frame type (sensor_batch, status, audio, camera)."
    )


class MdnsOut(BaseModel):
    """Where the device's mDNS record says it listens."""

    model_config = ConfigDict(from_attributes=True)

    address: str | None
    port: int = Field(description="0 when the device dials the hub instead.")


class DeviceOut(BaseModel):
    """A device heard from or advertised on the network, never paired."""

    id: str
    kind: str = Field(description="What the device is: watch, ring, cgm, ...")
    model: str
    capabilities: list[str] = Field(description="The streams the device can send.")
    status: Literal["paired", "revoked", "discovered", "waiting_to_pair"]
    last_seen: float | None = Field(description="When the hub last heard of it, Unix seconds.")
    connected: bool = Field(description="It has an authenticated link to the hub now.")
    rates: StreamRatesOut
    waiting_to_pair: bool = Field(
        description="It shows a code and waits for the owner to approve it."
    )
    mdns: MdnsOut | None = Field(description="Its mDNS record, while one is on the network.")

    @classmethod
    def from_domain(cls, listing: DeviceListing) -> DeviceOut:
        """The row of the device list; a device paired at some time carries its record too."""
        fields = {
            **asdict(listing.device),
            "connected": listing.connected,
            "rates": listing.rates,
            "waiting_to_pair": listing.waiting_to_pair,
            "mdns": listing.mdns,
        }
        if isinstance(listing.device, DeviceRecord):
            return PairedDeviceOut.model_validate(fields)
        return cls.model_validate(fields)


class PairedDeviceOut(DeviceOut):
    """A device the hub paired at some time (it may be revoked since), with what it stored."""

    paired_at: float | None = Field(description="Unix seconds.")
    revoked_at: float | None = Field(description="Unix seconds; null while paired.")
    acked_seq: int = Field(description="The highest frame sequence number stored.")
    battery: int | None = Field(description="Percent, from the newest status frame.")
    charging: bool | None
    status_at: float | None = Field(
        description="When the battery was read, Unix seconds on the device's clock."
    )


class DeviceList(BaseModel):
    """Paired, revoked and discovered devices (devices ever paired first, by id)."""

    object: Literal["list"] = "list"
    # Paired first: a PairedDeviceOut is a DeviceOut too, and must keep its extra fields.
    data: list[PairedDeviceOut | DeviceOut]


class SampleList(BaseModel):
    """Samples of one device, oldest first."""

    # The rows are the store's own frozen dataclasses, serialized as they are (their attribute
    # docstrings describe the fields here): building a pydantic model per row took 0.37 s of
    # CPU for 100,000 samples, serializing the dataclasses 0.08 s.
    model_config = ConfigDict(use_attribute_docstrings=True)

    object: Literal["list"] = "list"
    device_id: str
    resolution: Literal["raw", "1m", "1h"]
    data: list[StoredSample] | list[SampleRollup] = Field(
        description="raw: each sample; 1m and 1h: per kind and minute or hour, the count, mean, "
        "min, max and sum of its numeric samples."
    )


class DeviceStatusOut(BaseModel):
    """A device's new status after pairing or revoking it."""

    id: str
    status: Literal["paired", "revoked"]


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
