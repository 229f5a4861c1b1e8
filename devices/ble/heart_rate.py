"""The Bluetooth SIG Heart Rate Measurement characteristic (0x2A37) as ``BridgeSample`` values.

Layout (Heart Rate Service 1.0 and the GATT Specification Supplement), little-endian:
one flags byte, the heart rate (UINT8, or UINT16 when flag bit 0 is set), Energy Expended
(UINT16, kilojoules) when bit 3 is set, then RR intervals (UINT16 each, 1/1024 s) to the end
when bit 4 is set. Bits 1-2 are the sensor contact status: bit 2 says the sensor reports
contact at all, bit 1 that it has skin contact now.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from devices.bridge_samples import BridgeSample
from devices.sensor_kinds import SENSOR_KINDS, SensorKindTable

HEART_RATE_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"

VALUE_IS_UINT16 = 0x01
CONTACT_DETECTED = 0x02
CONTACT_SUPPORTED = 0x04
ENERGY_EXPENDED_PRESENT = 0x08
RR_INTERVALS_PRESENT = 0x10
RR_UNITS_PER_SECOND = 1024

_UINT16 = struct.Struct("<H")


class HeartRatePacketError(ValueError):
    """A Heart Rate Measurement value that does not follow the characteristic's layout."""


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded notification of the Heart Rate Measurement characteristic."""

    bpm: int
    contact: bool | None
    """True or False where the sensor reports skin contact, None where it cannot tell."""
    energy_kj: int | None
    rr_ms: tuple[float, ...]
    """Beat-to-beat times in milliseconds, oldest first."""


def parse_measurement(data: bytes) -> HeartRateMeasurement:
    """The measurement in one notification (``HeartRatePacketError`` naming what is wrong)."""
    if not data:
        raise HeartRatePacketError("empty Heart Rate Measurement: expected a flags byte first")
    flags = data[0]
    at = 1
    width = 2 if flags & VALUE_IS_UINT16 else 1
    if len(data) < at + width:
        raise HeartRatePacketError(
            f"Heart Rate Measurement of {len(data)} bytes is too short for its "
            f"{8 * width}-bit heart rate (flags 0x{flags:02x})"
        )
    bpm = _UINT16.unpack_from(data, at)[0] if width == 2 else data[at]
    at += width
    energy: int | None = None
    if flags & ENERGY_EXPENDED_PRESENT:
        if len(data) < at + 2:
            raise HeartRatePacketError(
                f"Heart Rate Measurement of {len(data)} bytes is too short for the energy "
                f"expended its flags (0x{flags:02x}) announce"
            )
        energy = _UINT16.unpack_from(data, at)[0]
        at += 2
    rr: tuple[float, ...] = ()
    if flags & RR_INTERVALS_PRESENT:
        rest = len(data) - at
        if rest % 2:
            raise HeartRatePacketError(
                f"Heart Rate Measurement announces RR intervals but has {rest} bytes left for "
                "them: expected whole 2-byte values"
            )
        rr = tuple(
            _UINT16.unpack_from(data, offset)[0] * 1000 / RR_UNITS_PER_SECOND
            for offset in range(at, len(data), 2)
        )
    contact = bool(flags & CONTACT_DETECTED) if flags & CONTACT_SUPPORTED else None
    return HeartRateMeasurement(bpm, contact, energy, rr)


def measurement_samples(
    measurement: HeartRateMeasurement,
    address: str,
    t: float,
    table: SensorKindTable = SENSOR_KINDS,
) -> list[BridgeSample]:
    """The samples a measurement received at ``t`` from ``address`` is worth: none without skin
    contact; a heart rate and RR intervals only where they lie in their kinds' ranges (a strap
    settling on the skin sends 0 bpm, a missed beat an RR interval of seconds)."""
    if measurement.contact is False:
        return []
    stamp = f"{address.lower()}|{round(t * 1000)}"
    samples: list[BridgeSample] = []
    low, high, _ = table.scalar_bounds["heart_rate"]
    if low <= measurement.bpm <= high:
        samples.append(
            BridgeSample("heart_rate", t, float(measurement.bpm), f"hr|{stamp}|{measurement.bpm}")
        )
    low, high, _ = table.scalar_bounds["rr_interval"]
    # The last interval ends at the beat just before the notification; each earlier one ends
    # where the next began.
    ends_at = t
    timed: list[tuple[int, float, float]] = []
    for index in range(len(measurement.rr_ms) - 1, -1, -1):
        rr = measurement.rr_ms[index]
        timed.append((index, ends_at, rr))
        ends_at -= rr / 1000
    for index, when, rr in reversed(timed):
        if low <= rr <= high:
            samples.append(BridgeSample("rr_interval", when, rr, f"rr|{stamp}|{index}|{rr:.3f}"))
    return samples


def heart_rate_samples(data: bytes, address: str, t: float) -> list[BridgeSample]:
    """The samples in one notification from ``address`` received at ``t`` (Unix seconds)."""
    return measurement_samples(parse_measurement(data), address, t)
