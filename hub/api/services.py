"""The components one hub is built from, made once in create_app and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from hub.api.metrics import HubMetrics
from hub.engine.cpu_placement import CpuPlacement
from hub.engine.runner import ModelRunner
from hub.models.catalog import ModelCatalog
from hub.personalization.service import PersonalizationService
from hub.recall.service import MemoryService
from hub.settings import Settings
from hub.wearables.service import DeviceService
from hub.web.web_services import WebServices

if TYPE_CHECKING:  # the voice service imports the chat turn, which imports this module
    from hub.voice.service import VoiceService


@dataclass
class HubServices:
    """Everything a route may need."""

    settings: Settings
    catalog: ModelCatalog
    runner: ModelRunner
    metrics: HubMetrics
    owner_token: str
    web: WebServices
    placement: CpuPlacement
    memory: MemoryService | None = None
    devices: DeviceService | None = None
    voice: VoiceService | None = None
    personalization: PersonalizationService | None = None


def get_services(request: Request) -> HubServices:
    """The services of the app serving this request."""
    services: HubServices = request.app.state.services
    return services


ServicesDep = Annotated[HubServices, Depends(get_services)]
