"""What routes declare they need: the hub, or one of its services. A service the settings
turned off answers 503 with the setting that turns it on (one place, for every route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from hub.assembly import Hub
from hub.bridges.import_jobs import ImportJobs
from hub.bridges.service import BridgeService
from hub.chat.turns import ChatTurns
from hub.errors import FeatureDisabledError
from hub.housekeeping.service import HousekeepingService
from hub.personalization.service import PersonalizationService
from hub.recall.service import MemoryService
from hub.voice.service import VoiceService
from hub.wearables.service import DeviceService
from hub.web.web_services import WebServices


def get_hub(connection: HTTPConnection) -> Hub:
    """The hub serving this request or WebSocket."""
    hub: Hub = connection.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_memory(hub: HubDep) -> MemoryService:
    """The memory service, or a 503 when memory is turned off."""
    if hub.memory is None:
        raise FeatureDisabledError(
            "memory_disabled",
            "memory is turned off on this hub; set HUB_MEMORY_ENABLED=true and restart it",
        )
    return hub.memory


def get_housekeeping(hub: HubDep) -> HousekeepingService:
    """Memory housekeeping, or a 503 when memory is turned off."""
    if hub.housekeeping is None:
        raise FeatureDisabledError(
            "memory_disabled",
            "memory is turned off on this hub; set HUB_MEMORY_ENABLED=true and restart it",
        )
    return hub.housekeeping


def require_disk_space(hub: HubDep) -> None:
    """Refuse a write that stores more (507 ``disk_full``) while the data disk is nearly full."""
    hub.disk_space.check("new and changed memories")


def get_voice(hub: HubDep) -> VoiceService:
    """The voice service, or a 503 when voice is turned off."""
    if hub.voice is None:
        raise FeatureDisabledError(
            "voice_unavailable",
            "voice is off on this hub; set HUB_VOICE_ENABLED=true and restart it",
        )
    return hub.voice


def get_devices(hub: HubDep) -> DeviceService:
    """The device service."""
    return hub.devices


def get_bridges(hub: HubDep) -> BridgeService:
    """The bridge service: apps and devices that reach the hub without pairing."""
    return hub.bridges


def get_imports(hub: HubDep) -> ImportJobs:
    """Imports of export files uploaded from the Devices page."""
    return hub.imports


def get_chat(hub: HubDep) -> ChatTurns:
    """Chat turns: the one way every chat is answered."""
    return hub.chat


def get_personalization(hub: HubDep) -> PersonalizationService:
    """Nightly personalization: runs, adapters, the dataset."""
    return hub.personalization


def get_web(hub: HubDep) -> WebServices:
    """Sign-in, conversations and chat preferences."""
    return hub.web


MemoryDep = Annotated[MemoryService, Depends(get_memory)]
HousekeepingDep = Annotated[HousekeepingService, Depends(get_housekeeping)]
VoiceDep = Annotated[VoiceService, Depends(get_voice)]
DevicesDep = Annotated[DeviceService, Depends(get_devices)]
BridgesDep = Annotated[BridgeService, Depends(get_bridges)]
ImportsDep = Annotated[ImportJobs, Depends(get_imports)]
ChatDep = Annotated[ChatTurns, Depends(get_chat)]
PersonalizationDep = Annotated[PersonalizationService, Depends(get_personalization)]
WebDep = Annotated[WebServices, Depends(get_web)]
