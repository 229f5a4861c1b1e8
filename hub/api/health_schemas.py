"""Answer of GET /health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub.engine.runner import ModelState


class HealthStatus(BaseModel):
    """The hub is up; says nothing private."""

    status: Literal["ok"]
    version: str = Field(description="The hub's version.")
    model: ModelState = Field(
        description='"ready": the chosen model answers; "fallback": the packaged model answers '
        'because the chosen one failed to load; "unavailable": no model loaded, chat answers 503 '
        'while memory and devices work; "loading": not tried yet. GET /v1/models/active says why.'
    )
