"""The formats ``hub import`` reads, by the name it takes (also the bridge kind)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from devices.imports.apple_health import APPLE_HEALTH
from devices.imports.common import ImportFormat
from devices.imports.dexcom_clarity import DEXCOM_CLARITY
from devices.imports.gadgetbridge import GADGETBRIDGE
from devices.imports.garmin_fit import GARMIN_FIT
from devices.imports.health_auto_export import HEALTH_AUTO_EXPORT
from devices.imports.libreview import LIBREVIEW

IMPORT_FORMATS: Mapping[str, ImportFormat] = MappingProxyType(
    {
        found.name: found
        for found in (
            APPLE_HEALTH,
            HEALTH_AUTO_EXPORT,
            DEXCOM_CLARITY,
            LIBREVIEW,
            GADGETBRIDGE,
            GARMIN_FIT,
        )
    }
)


def import_format(name: str) -> ImportFormat:
    """The format called ``name``; a KeyError-free ValueError naming the known ones."""
    found = IMPORT_FORMATS.get(name)
    if found is None:
        known = ", ".join(IMPORT_FORMATS)
        raise ValueError(f"no import format {name!r}; `hub import` reads: {known}")
    return found
