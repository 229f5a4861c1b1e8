"""Answers and bodies of /v1/bridges: the owner's apps and devices that reach the hub by bridge."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hub.bridges.store import BridgeRecord


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


class BridgeIn(BaseModel):
    """A new bridge: its kind and a name the person recognises."""

    kind: str = Field(max_length=64, description="A kind of GET /v1/bridges/kinds: nightscout.")
    name: str = Field(
        default="", max_length=64, description="Such as 'xDrip phone'; the kind's name if empty."
    )


class BridgeOut(BaseModel):
    """One bridge (never its secret); it is also a device of GET /v1/devices."""

    id: str = Field(description="Its device id: revoke it with POST /v1/devices/{id}/revoke.")
    kind: str
    name: str
    status: str = Field(description="paired (working) or revoked.")
    created_at: str = Field(description="ISO 8601, UTC.")
    last_seen_at: str | None = Field(description="When it last sent, ISO 8601; null if never.")

    @classmethod
    def from_record(cls, record: BridgeRecord) -> BridgeOut:
        """The API's view of a stored bridge."""
        return cls(
            id=record.id,
            kind=record.kind,
            name=record.name,
            status=record.status,
            created_at=_iso(record.created_at) or "",
            last_seen_at=_iso(record.last_seen),
        )


class CreatedBridgeOut(BridgeOut):
    """A bridge just added, with its secret and setup lines: the only time they are shown."""

    secret: str
    setup: list[str] = Field(description="What to enter in the app, one line each.")


class BridgeListOut(BaseModel):
    """Every bridge, newest first."""

    object: str = "list"
    data: list[BridgeOut]


class BridgeKindOut(BaseModel):
    """One kind of bridge the hub knows."""

    name: str
    label: str
    arrives: str = Field(description="upload, bluetooth or import.")
    sends: list[str]


class BridgeKindListOut(BaseModel):
    """The kinds of bridge the hub knows."""

    object: str = "list"
    data: list[BridgeKindOut]
