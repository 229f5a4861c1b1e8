"""Answers and bodies of /v1/bridges: the owner's apps and devices that reach the hub by bridge."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hub.bridges.import_jobs import ImportJob
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


class ImportJobOut(BaseModel):
    """One import of an export file and how far it has come."""

    id: str
    kind: str = Field(description="The file's format, such as apple-health.")
    file_name: str
    dry_run: bool = Field(description="True: nothing is stored; `stored` counts known readings.")
    state: str = Field(description="uploading, queued, reading, done or failed.")
    total_bytes: int
    bytes_read: int = Field(description="How much of the file has been read: the progress.")
    readings: int = Field(description="Readings found so far.")
    stored: int = Field(
        description="New readings stored (a dry run: readings the hub already has)."
    )
    by_kind: dict[str, int] = Field(description="Readings found, by sensor kind.")
    spans: dict[str, tuple[float, float]] = Field(
        description="By sensor kind, the first and last reading's time (Unix seconds)."
    )
    skipped: dict[str, int] = Field(description="Readings left out, by reason.")
    error: str | None = Field(description="Why it failed, naming the line or record; else null.")
    started_at: str = Field(description="ISO 8601, UTC.")
    finished_at: str | None

    @classmethod
    def from_job(cls, job: ImportJob) -> ImportJobOut:
        """The API's view of an import."""
        return cls(
            id=job.id,
            kind=job.kind,
            file_name=job.file_name,
            dry_run=job.dry_run,
            state=job.state,
            total_bytes=job.total_bytes,
            bytes_read=job.bytes_read,
            readings=job.readings,
            stored=job.stored,
            by_kind=dict(job.by_kind),
            spans=dict(job.spans),
            skipped=dict(job.skipped),
            error=job.error,
            started_at=_iso(job.started_at) or "",
            finished_at=_iso(job.finished_at),
        )


class ImportJobListOut(BaseModel):
    """Imports still remembered, newest first."""

    object: str = "list"
    data: list[ImportJobOut]
