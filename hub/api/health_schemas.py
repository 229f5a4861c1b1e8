"""Answer of GET /health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthStatus(BaseModel):
    """The hub is up; says nothing private."""

    status: Literal["ok"]
    version: str = Field(description="The hub's version.")
