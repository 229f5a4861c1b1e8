"""/v1/bridges: the owner adds and lists bridges (apps and devices that cannot pair)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from hub.api.auth import require_owner
from hub.api.bridges_schemas import (
    BridgeIn,
    BridgeKindListOut,
    BridgeKindOut,
    BridgeListOut,
    BridgeOut,
    CreatedBridgeOut,
    ImportJobListOut,
    ImportJobOut,
)
from hub.api.deps import BridgesDep, ImportsDep
from hub.bridges.hints import setup_hints
from hub.bridges.import_jobs import ImportRequest
from hub.bridges.kinds import BRIDGE_KINDS

IMPORTS_PATH = "/v1/bridges/imports"  # uploads up to HUB_IMPORT_MAX_BYTES (body_limit.py)

router = APIRouter(prefix="/v1/bridges", tags=["bridges"], dependencies=[Depends(require_owner)])


@router.get("")
async def list_bridges(bridges: BridgesDep) -> BridgeListOut:
    """Every bridge with its kind, name and when it last sent."""
    records = await asyncio.to_thread(bridges.store.bridges)
    return BridgeListOut(data=[BridgeOut.from_record(record) for record in records])


@router.get("/kinds")
async def list_bridge_kinds() -> BridgeKindListOut:
    """The kinds of bridge the hub knows and what each brings."""
    return BridgeKindListOut(
        data=[
            BridgeKindOut(name=k.name, label=k.label, arrives=k.arrives, sends=list(k.sends))
            for k in BRIDGE_KINDS.values()
        ]
    )


@router.post("", status_code=201)
async def create_bridge(body: BridgeIn, request: Request, bridges: BridgesDep) -> CreatedBridgeOut:
    """Add a bridge; the answer carries its secret, the only time it is shown."""
    made = await asyncio.to_thread(bridges.add, body.kind, body.name)
    base = str(request.base_url)
    return CreatedBridgeOut(
        **BridgeOut.from_record(made.record).model_dump(),
        secret=made.secret,
        setup=setup_hints(made.record.kind, base, made.secret),
    )


@router.post("/imports", status_code=202)
async def create_import(
    request: Request,
    imports: ImportsDep,
    kind: Annotated[str, Query(max_length=64, description="The format, such as apple-health.")],
    file_name: Annotated[str, Query(max_length=255)] = "",
    tz: Annotated[
        str | None, Query(max_length=64, description="Zone of local times, such as Europe/Lisbon.")
    ] = None,
    dry_run: bool = False,
) -> ImportJobOut:
    """Upload an export file (the request body, with its Content-Length) and import it in the
    background; poll GET /v1/bridges/imports/{id} for progress. Re-imports add nothing."""
    declared = int(request.headers.get("content-length", "0"))
    job = await imports.upload(
        ImportRequest(kind, file_name, tz, dry_run), declared, request.stream()
    )
    return ImportJobOut.from_job(job)


@router.get("/imports")
async def list_imports(imports: ImportsDep) -> ImportJobListOut:
    """Imports still remembered, newest first, with their progress."""
    return ImportJobListOut(data=[ImportJobOut.from_job(job) for job in imports.listed()])


@router.get("/imports/{import_id}")
async def read_import(import_id: str, imports: ImportsDep) -> ImportJobOut:
    """One import's progress: bytes read, readings found and stored, or why it failed."""
    return ImportJobOut.from_job(imports.get(import_id))
