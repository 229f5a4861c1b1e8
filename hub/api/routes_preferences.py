"""/v1/preferences: the persona and generation settings used in the web UI's conversations."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import require_owner
from hub.api.deps import WebDep
from hub.api.web_schemas import Preferences
from hub.conversations.preferences import ChatPreferences

router = APIRouter(
    prefix="/v1/preferences",
    tags=["preferences"],
    dependencies=[Depends(require_owner)],
)


class PreferencesBody(BaseModel):
    """PUT /v1/preferences."""

    model_config = ConfigDict(extra="forbid")

    system_prompt: str = Field(default="", max_length=8000)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)


@router.get("")
async def read_preferences(web: WebDep) -> Preferences:
    """The saved persona and generation settings."""
    preferences = await asyncio.to_thread(web.preferences.read_preferences)
    return Preferences.from_domain(preferences)


@router.put("")
async def update_preferences(body: PreferencesBody, web: WebDep) -> Preferences:
    """Replace the persona and generation settings; later answers use them."""
    preferences = ChatPreferences(body.system_prompt, body.temperature, body.max_tokens)
    saved = await asyncio.to_thread(web.preferences.save_preferences, preferences)
    return Preferences.from_domain(saved)
