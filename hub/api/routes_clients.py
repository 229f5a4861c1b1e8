"""/v1/clients: the owner makes, lists and revokes credentials for other programs."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from hub.api.auth import require_owner
from hub.api.clients_schemas import (
    ClientIn,
    ClientListOut,
    ClientOut,
    ClientRevokedOut,
    CreatedClientOut,
    ScopeListOut,
    ScopeOut,
)
from hub.api.deps import HubDep
from hub.clients.scopes import SCOPES

router = APIRouter(prefix="/v1/clients", tags=["clients"], dependencies=[Depends(require_owner)])


@router.get("")
async def list_clients(hub: HubDep) -> ClientListOut:
    """Every client program with its scopes and when it was last seen."""
    records = await asyncio.to_thread(hub.clients.list_clients)
    return ClientListOut(data=[ClientOut.from_record(record) for record in records])


@router.get("/scopes")
async def list_scopes() -> ScopeListOut:
    """The scopes a credential may hold, and what each allows."""
    return ScopeListOut(data=[ScopeOut(name=n, description=d) for n, d in SCOPES.items()])


@router.post("", status_code=201)
async def create_client(body: ClientIn, hub: HubDep) -> CreatedClientOut:
    """Make a credential for one program; the answer is the only time it is shown."""
    made = await asyncio.to_thread(hub.clients.add, body.name, body.scopes)
    shown = ClientOut.from_record(made.record)
    return CreatedClientOut(
        **shown.model_dump(),
        credential=made.credential,
        header=f"Authorization: Bearer {made.credential}",
        url_prefix=f"/c/{made.credential}/",
    )


@router.delete("/{name}")
async def revoke_client(name: str, hub: HubDep) -> ClientRevokedOut:
    """Revoke a client's credential: its next request is refused."""
    await asyncio.to_thread(hub.clients.revoke, name)
    return ClientRevokedOut(name=name, revoked=True)
