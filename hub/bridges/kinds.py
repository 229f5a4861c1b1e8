"""The kinds of bridge the hub knows: one entry per app, device family or export format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hub.errors import HubError


@dataclass(frozen=True)
class BridgeKind:
    """One kind of bridge: how a person recognises it and how its data arrives."""

    name: str  # the device record's `kind`, and what `hub bridges add` takes
    label: str  # as a person reads it on the Devices page
    arrives: str  # "upload" (the app posts to the hub), "bluetooth" or "import" (a file)
    sends: tuple[str, ...]  # the sensor kinds (or "audio", "memories") it brings


BRIDGE_KINDS: Mapping[str, BridgeKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            BridgeKind(
                "nightscout",
                "Nightscout uploader (xDrip+, Juggluco)",
                "upload",
                ("glucose",),
            ),
            BridgeKind("omi", "Omi app or cloud webhooks", "upload", ("audio", "memories")),
            BridgeKind(
                "health-auto-export",
                "Health Auto Export (iPhone)",
                "upload",
                ("heart_rate", "steps", "glucose", "spo2", "sleep_stage"),
            ),
            BridgeKind(
                "ble-heart-rate",
                "Bluetooth heart-rate strap or watch",
                "bluetooth",
                ("heart_rate", "rr_interval"),
            ),
            BridgeKind("omi-ble", "Omi pendant over Bluetooth", "bluetooth", ("audio",)),
            BridgeKind(
                "apple-health",
                "Apple Health export",
                "import",
                ("heart_rate", "steps", "glucose", "spo2", "sleep_stage"),
            ),
            BridgeKind("dexcom-clarity", "Dexcom Clarity CSV export", "import", ("glucose",)),
            BridgeKind("libreview", "LibreView CSV export", "import", ("glucose",)),
            BridgeKind(
                "gadgetbridge",
                "Gadgetbridge database export",
                "import",
                ("heart_rate", "steps", "spo2"),
            ),
            BridgeKind("garmin-fit", "Garmin FIT files", "import", ("heart_rate", "steps")),
        )
    }
)


class UnknownBridgeKindError(HubError):
    """A bridge kind the hub does not know; the message lists the ones it does."""

    error_code = "unknown_bridge_kind"


def bridge_kind(name: str) -> BridgeKind:
    """The kind called ``name``, or UnknownBridgeKindError naming the known ones."""
    kind = BRIDGE_KINDS.get(name)
    if kind is None:
        known = ", ".join(BRIDGE_KINDS)
        raise UnknownBridgeKindError(f"no bridge kind {name!r}; the hub knows: {known}")
    return kind


def kind_added_by_secret(name: str) -> BridgeKind:
    """The kind called ``name`` when a bridge of it is added with a secret alone (an app that
    uploads, or a file import); a Bluetooth kind needs its radio address, so it is refused with
    the command that takes one."""
    kind = bridge_kind(name)
    if kind.arrives == "bluetooth":
        raise UnknownBridgeKindError(
            f"a {name} bridge needs the device's radio address: add it with "
            "`hub bridges ble add ADDRESS` (see `hub bridges ble scan`)"
        )
    return kind
