"""/v1/token/rotate: replace the owner's bearer token (owner only)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from hub.api.auth import require_owner
from hub.api.deps import HubDep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/token", tags=["token"], dependencies=[Depends(require_owner)])


class RotatedToken(BaseModel):
    """The new owner token; the old one is refused from now on."""

    token: str = Field(description="Send it as 'Authorization: Bearer <token>'.")


@router.post("/rotate")
async def rotate_token(hub: HubDep) -> RotatedToken:
    """Make a new owner token, store it in the data directory and refuse the old one at once."""
    token = await asyncio.to_thread(hub.owner_token.rotate)
    logger.warning("the owner token was rotated; programs need the new one (`hub token`)")
    return RotatedToken(token=token)
