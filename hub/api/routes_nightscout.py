"""The Nightscout-compatible API (/api/v1): CGM apps (xDrip+, Juggluco, ...) upload glucose to the
hub as they would to a Nightscout site, and followers read it back.

Each request carries a ``nightscout`` bridge's secret the way those apps send it: the SHA-1 hex
of it (or the secret itself) in an ``api-secret`` header, or ``?token=<secret>`` in the URL
(hub.api.bridge_secret). Without a working secret nothing is read or stored (401). Errors come in
Nightscout's shape (hub.api.errors). What xDrip+ also sends on upload (device status, treatments,
activity) is answered 200 and not kept, since a failure there would make it retry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from devices.bridge_samples import BridgeSample
from devices.sensor_kinds import glucose_target_band
from hub import __version__
from hub.api.bridge_secret import presented_secret
from hub.api.deps import BridgesDep
from hub.api.errors import HubAPIError
from hub.api.nightscout_schemas import (
    AuthorizedOut,
    NightscoutEntryOut,
    NightscoutErrorOut,
    NightscoutSettingsOut,
    NightscoutStatusOut,
    ThresholdsOut,
    VerifyAuthMessageOut,
    VerifyAuthOut,
)
from hub.bridges.errors import InvalidReadingError
from hub.bridges.nightscout import GlucoseEntry, parse_entries
from hub.bridges.nightscout_entries import EntryQuery, entry_query, read_entries
from hub.bridges.service import BridgeService
from hub.bridges.store import BridgeRecord
from hub.bridges.upload_body import load_upload_json

KIND = "nightscout"
MAX_HEADER_TEXT = 600  # a header naming refused entries stays readable, and under proxies' limits
SPECS = {"sgv": ("sgv",), "mbg": ("mbg",), "current": ("sgv",)}
# Where a follower draws its lines: the hub's target band, and the consensus's very low and
# very high levels (Battelino et al., Diabetes Care 2019: below 54, above 250 mg/dL).
VERY_LOW, VERY_HIGH = 54, 250

ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": NightscoutErrorOut, "description": "Refused; the description says why."},
}

router = APIRouter(prefix="/api/v1", tags=["nightscout"], responses=ERRORS)


async def nightscout_bridge(request: Request, bridges: BridgesDep) -> BridgeRecord:
    """The working ``nightscout`` bridge whose secret the request carries, or a 401."""
    presented = presented_secret(request)
    if not presented:
        raise HubAPIError(
            401,
            "no API secret: send the bridge's secret, or its SHA-1 hex, in an api-secret header, "
            "or add ?token=<secret> to the URL (the secret `hub bridges add nightscout` printed)",
            code="missing_api_secret",
        )
    record = await bridges.find(presented, KIND)
    if record is None:
        raise HubAPIError(
            401,
            "this API secret opens no working Nightscout bridge of this hub: mistyped, revoked, "
            "or another kind of bridge's; add one with `hub bridges add nightscout` or on the "
            "Devices page",
            code="invalid_api_secret",
        )
    return record


NightscoutBridge = Annotated[BridgeRecord, Depends(nightscout_bridge)]


def _header_text(text: str) -> str:
    """``text`` safe as a header value: printable ASCII, cut short."""
    safe = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return safe if len(safe) <= MAX_HEADER_TEXT else safe[: MAX_HEADER_TEXT - 3] + "..."


def _entries_out(bridge: BridgeRecord, entries: list[GlucoseEntry]) -> list[dict[str, Any]]:
    return [
        NightscoutEntryOut.of(entry, bridge.id, bridge.name).model_dump(
            by_alias=True, exclude_none=True
        )
        for entry in entries
    ]


@router.post("/entries", response_model=list[NightscoutEntryOut])
@router.post("/entries.json", response_model=list[NightscoutEntryOut], include_in_schema=False)
@router.post("/entries/", response_model=list[NightscoutEntryOut], include_in_schema=False)
async def create_entries(
    request: Request, bridge: NightscoutBridge, bridges: BridgesDep
) -> JSONResponse:
    """Store the sgv and mbg entries not stored before; answer with them (Nightscout's shape).
    Headers say how many were new (X-Hub-Stored), which types were left out (X-Hub-Ignored)
    and which entries were refused and why (X-Hub-Refused)."""
    payload = load_upload_json(await request.body(), request.headers.get("content-encoding", ""))
    upload = parse_entries(payload, time.time() * 1000)
    if upload.refused and not upload.samples:
        raise InvalidReadingError(
            "no entry could be stored: "
            + "; ".join(upload.refused[:5])
            + (f"; and {len(upload.refused) - 5} more" if len(upload.refused) > 5 else "")
        )
    stored = await _store(bridges, bridge, upload.samples)
    headers = {"X-Hub-Stored": str(stored)}
    if upload.ignored:
        headers["X-Hub-Ignored"] = _header_text(
            f"{upload.ignored_text()} (the hub keeps sgv and mbg entries only)"
        )
    if upload.refused:
        headers["X-Hub-Refused"] = _header_text("; ".join(upload.refused))
    return JSONResponse(_entries_out(bridge, upload.accepted), headers=headers)


async def _store(bridges: BridgeService, bridge: BridgeRecord, samples: list[BridgeSample]) -> int:
    if samples:
        return await bridges.store_samples(bridge.id, samples)
    await bridges.touch(bridge.id)
    return 0


async def _read(
    bridges: BridgeService, bridge: BridgeRecord, query: EntryQuery
) -> list[dict[str, Any]]:
    entries = await asyncio.to_thread(read_entries, bridges.devices.store, bridge.id, query)
    return _entries_out(bridge, entries)


@router.get("/entries", response_model=list[NightscoutEntryOut])
@router.get("/entries.json", response_model=list[NightscoutEntryOut], include_in_schema=False)
async def read_entries_route(
    request: Request, bridge: NightscoutBridge, bridges: BridgesDep
) -> JSONResponse:
    """The bridge's entries, newest first: ``count`` (10 unless said, at most 10,000) and
    ``find[date][$gte]=<ms>``, ``find[dateString][$lt]=<ISO>``, ``find[type]=sgv`` filters."""
    query = entry_query(request.query_params.multi_items())
    return JSONResponse(await _read(bridges, bridge, query))


@router.get("/entries/{spec}", response_model=list[NightscoutEntryOut])
async def read_entries_of_type(
    spec: str, request: Request, bridge: NightscoutBridge, bridges: BridgesDep
) -> JSONResponse:
    """``sgv``, ``mbg`` or ``current`` (the newest sensor reading), with or without ``.json``."""
    name = spec.removesuffix(".json")
    if name not in SPECS:
        raise HubAPIError(
            404,
            f"no entries called {spec!r}: ask for /api/v1/entries/sgv.json, mbg.json or "
            "current.json",
            code="not_found",
        )
    query = entry_query(request.query_params.multi_items(), SPECS[name])
    if name == "current":
        query = EntryQuery(count=1, types=("sgv",))
    return JSONResponse(await _read(bridges, bridge, query))


def _status(bridge: BridgeRecord) -> NightscoutStatusOut:
    low, high = glucose_target_band()
    now = time.time()
    return NightscoutStatusOut(
        name="walking-nas",
        server_time=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        + f".{int(now * 1000) % 1000:03d}Z",
        server_time_epoch=int(now * 1000),
        settings=NightscoutSettingsOut(
            units="mg/dl",
            custom_title=f"Walking NAS {__version__}",
            enable=[],
            thresholds=ThresholdsOut(
                bg_high=VERY_HIGH,
                bg_target_top=int(high),
                bg_target_bottom=int(low),
                bg_low=VERY_LOW,
            ),
        ),
        authorized=AuthorizedOut(
            sub=bridge.name, permission_groups=[["api:entries:create", "api:entries:read"]]
        ),
    )


@router.get("/status", response_model=NightscoutStatusOut)
@router.get("/status.json", response_model=NightscoutStatusOut, include_in_schema=False)
async def read_status(bridge: NightscoutBridge) -> NightscoutStatusOut:
    """What uploaders read to check the server and their secret: ``status: ok``, the version,
    units (mg/dl) and thresholds."""
    return _status(bridge)


@router.get("/verifyauth")
async def verify_auth(request: Request, bridges: BridgesDep) -> VerifyAuthOut:
    """Whether the presented secret opens a working Nightscout bridge (as Nightscout answers:
    200 either way, ``message.message`` OK or UNAUTHORIZED)."""
    presented = presented_secret(request)
    found = await bridges.find(presented, KIND) if presented else None
    return VerifyAuthOut(
        message=VerifyAuthMessageOut(
            can_read=found is not None,
            can_write=found is not None,
            message="OK" if found else "UNAUTHORIZED",
            rolefound="FOUND" if found else "NOTFOUND",
            permissions="ROLE" if found else "DEFAULT",
        )
    )


def _not_kept(what: str) -> JSONResponse:
    return JSONResponse(
        [], headers={"X-Hub-Ignored": f"{what} are accepted and not kept (the hub keeps glucose)"}
    )


# What xDrip+ sends beside entries (its NightscoutUploader): a failed device-status post is
# only logged, but a failed treatments or activity post marks the upload failed and is retried.
@router.post("/devicestatus", include_in_schema=False)
@router.post("/devicestatus.json", include_in_schema=False)
async def create_device_status(bridge: NightscoutBridge) -> JSONResponse:
    """The phone's battery and the like: accepted, not kept."""
    return _not_kept("device statuses")


@router.post("/treatments", include_in_schema=False)
@router.put("/treatments", include_in_schema=False)
@router.post("/treatments.json", include_in_schema=False)
@router.put("/treatments.json", include_in_schema=False)
async def create_treatments(bridge: NightscoutBridge) -> JSONResponse:
    """Insulin, carbs, notes: accepted, not kept."""
    return _not_kept("treatments")


@router.post("/activity", include_in_schema=False)
@router.post("/activity.json", include_in_schema=False)
async def create_activity(bridge: NightscoutBridge) -> JSONResponse:
    """Heart rate and steps xDrip+ sends in engineering mode: accepted, not kept."""
    return _not_kept("activity records")


@router.get("/treatments", include_in_schema=False)
@router.get("/treatments.json", include_in_schema=False)
@router.get("/devicestatus", include_in_schema=False)
@router.get("/devicestatus.json", include_in_schema=False)
async def read_nothing_kept(bridge: NightscoutBridge) -> JSONResponse:
    """Treatments and device statuses: none are kept, so none are listed."""
    return JSONResponse([])
