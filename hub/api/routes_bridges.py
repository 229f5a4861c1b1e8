"""/v1/bridges: the owner adds and lists bridges (apps and devices that cannot pair)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from hub.api.auth import require_owner
from hub.api.bridges_schemas import (
    BridgeIn,
    BridgeKindListOut,
    BridgeKindOut,
    BridgeListOut,
    BridgeOut,
    CreatedBridgeOut,
)
from hub.api.deps import BridgesDep
from hub.bridges.hints import setup_hints
from hub.bridges.kinds import BRIDGE_KINDS

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
