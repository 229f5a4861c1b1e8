"""What a bridge hands the hub: samples from a device or app that cannot speak the device protocol.

A bridge (a Nightscout uploader, an Omi pendant, a Bluetooth heart-rate strap, an exported
file) turns what it receives into ``BridgeSample`` values. Each carries a ``key`` that names the
reading in its source (a Nightscout entry's time and type, an Apple Health record's type, times
and value), so a reading the app sends again, or a file imported twice, is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devices.sensor_kinds import SENSOR_KINDS, SensorKindTable


class BridgeSampleError(ValueError):
    """A reading that does not fit its sensor kind; the message names the kind and the bound."""


@dataclass(frozen=True, slots=True)
class BridgeSample:
    """One reading from a bridge, checked against its kind before it reaches the store."""

    kind: str
    """A sensor kind of the table in ``devices/sensor_kinds.py``."""
    t: float
    """When it was measured, Unix seconds (UTC)."""
    v: float | tuple[float, ...]
    """A number, or the numbers of a vector kind."""
    key: str
    """The reading's identity in its source: the same reading always has the same key."""


def checked(sample: BridgeSample, table: SensorKindTable = SENSOR_KINDS) -> BridgeSample:
    """The sample itself when its kind exists and its value lies in the kind's range."""
    kind = table.get(sample.kind)
    if kind is None:
        raise BridgeSampleError(f"unknown sensor kind {sample.kind!r}")
    if not sample.key:
        raise BridgeSampleError(f"a {sample.kind} reading needs a key naming it in its source")
    values = sample.v if isinstance(sample.v, tuple) else (sample.v,)
    low, high = kind.dimensions
    if not low <= len(values) <= high:
        raise BridgeSampleError(f"{sample.kind} takes {low}..{high} numbers, got {len(values)}")
    if kind.scalar:
        value = values[0]
        if not kind.low <= value <= kind.high:
            raise BridgeSampleError(
                f"{sample.kind} {value} {kind.unit} is outside {kind.low}..{kind.high}"
            )
        if kind.whole and value != int(value):
            raise BridgeSampleError(f"{sample.kind} takes whole numbers, got {value}")
    else:
        for part, value in zip(kind.parts, values, strict=False):
            if not part.low <= value <= part.high:
                raise BridgeSampleError(
                    f"{sample.kind} {part.name} {value} is outside {part.low}..{part.high}"
                )
    return sample


def all_checked(
    samples: Iterable[BridgeSample], table: SensorKindTable = SENSOR_KINDS
) -> list[BridgeSample]:
    """Every sample checked (see ``checked``); the first bad one raises."""
    return [checked(sample, table) for sample in samples]
