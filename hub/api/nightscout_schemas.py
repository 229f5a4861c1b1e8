"""Answers of the Nightscout-compatible API (/api/v1), in Nightscout's own field names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hub.bridges.nightscout import GlucoseEntry, entry_id, iso_ms

# The Nightscout version the hub answers like: uploaders compare it (xDrip+ turns features off
# for 0.6 to 0.8), as Ollama clients compare /api/version.
NIGHTSCOUT_VERSION = "15.0.0"


class CamelModel(BaseModel):
    """Fields named in Python's way, sent in Nightscout's (``date_string`` as ``dateString``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class NightscoutEntryOut(CamelModel):
    """One entry: a sensor reading (``sgv``) or a meter reading (``mbg``), in mg/dL."""

    id: str = Field(alias="_id", description="Stable per reading, in the shape of an ObjectId.")
    type: str = Field(description="sgv (sensor) or mbg (meter).")
    date: int = Field(description="When it was measured, Unix milliseconds.")
    date_string: str = Field(description="The same moment, ISO 8601 in UTC.")
    sys_time: str
    utc_offset: int = 0
    sgv: int | None = Field(default=None, description="Sensor glucose, mg/dL.")
    mbg: int | None = Field(default=None, description="Meter glucose, mg/dL.")
    direction: str | None = Field(
        default=None, description="Trend arrow (Flat, FortyFiveUp, ...), worked out by the hub."
    )
    delta: float | None = Field(default=None, description="Change per 5 minutes, mg/dL.")
    device: str = Field(description="The bridge's name.")

    @classmethod
    def of(cls, entry: GlucoseEntry, device_id: str, device: str) -> NightscoutEntryOut:
        """The API's view of a stored reading of the bridge ``device_id`` named ``device``."""
        when = iso_ms(entry.date_ms)
        value = round(entry.mgdl)
        return cls(
            id=entry_id(device_id, f"{entry.type}:{entry.date_ms}"),
            type=entry.type,
            date=entry.date_ms,
            date_string=when,
            sys_time=when,
            sgv=value if entry.type == "sgv" else None,
            mbg=value if entry.type == "mbg" else None,
            direction=entry.direction,
            delta=entry.delta,
            device=device,
        )


class ThresholdsOut(BaseModel):
    """Glucose thresholds in mg/dL, which followers draw as lines."""

    bg_high: int
    bg_target_top: int
    bg_target_bottom: int
    bg_low: int


class NightscoutSettingsOut(CamelModel):
    """The settings uploaders and followers read from the status."""

    units: str = Field(description="Always mg/dl: the hub stores glucose in mg/dL.")
    time_format: int = 24
    custom_title: str
    theme: str = "default"
    language: str = "en"
    enable: list[str] = Field(description="Nightscout plugins: none (the hub is not one).")
    thresholds: ThresholdsOut


class AuthorizedOut(CamelModel):
    """Whom the presented secret belongs to."""

    sub: str = Field(description="The bridge's name.")
    permission_groups: list[list[str]]


class NightscoutStatusOut(CamelModel):
    """GET /api/v1/status.json: what uploaders read to check the server and the secret."""

    status: str = "ok"
    name: str
    version: str = NIGHTSCOUT_VERSION
    server_time: str
    server_time_epoch: int
    api_enabled: bool = True
    careportal_enabled: bool = Field(
        default=False, description="False: treatments are accepted and not kept."
    )
    boluscalc_enabled: bool = False
    settings: NightscoutSettingsOut
    extended_settings: dict[str, object] = Field(default_factory=dict)
    authorized: AuthorizedOut


class VerifyAuthMessageOut(CamelModel):
    """Whether the presented secret works, as Nightscout's /verifyauth says it."""

    can_read: bool
    can_write: bool
    is_admin: bool = False
    message: str = Field(description="OK or UNAUTHORIZED.")
    rolefound: str  # FOUND or NOTFOUND
    permissions: str  # ROLE or DEFAULT


class VerifyAuthOut(BaseModel):
    """GET /api/v1/verifyauth."""

    status: int = 200
    message: VerifyAuthMessageOut


class NightscoutErrorOut(BaseModel):
    """Every error of /api/v1, in Nightscout's shape."""

    status: int
    message: str = Field(description="The HTTP status's name, such as Unauthorized.")
    description: str = Field(description="What went wrong, and what to do about it.")
