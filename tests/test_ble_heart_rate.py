"""The Heart Rate Measurement parser, with notifications written from the Bluetooth SIG's Heart
Rate Service spec (flags byte, UINT8/UINT16 value, contact bits, energy, RR in 1/1024 s)."""

from __future__ import annotations

import pytest

from devices.ble.heart_rate import (
    HeartRatePacketError,
    heart_rate_samples,
    parse_measurement,
)
from devices.bridge_samples import all_checked

STRAP = "C8:FD:19:4A:0B:21"
T = 1_764_650_000.5

# flags 0x00: UINT8 value, contact not supported, nothing else: 72 bpm.
PLAIN_8BIT = bytes([0x00, 0x48])
# flags 0x01: UINT16 value: 140 bpm.
PLAIN_16BIT = bytes([0x01, 0x8C, 0x00])
# flags 0x16: contact supported and detected, RR present; 75 bpm; RR 1024/1024 s, 798/1024 s.
CONTACT_WITH_RR = bytes([0x16, 0x4B, 0x00, 0x04, 0x1E, 0x03])
# flags 0x1E: contact detected, energy expended 10000 kJ, one RR of 768/1024 s; 90 bpm.
WITH_ENERGY = bytes([0x1E, 0x5A, 0x10, 0x27, 0x00, 0x03])
# flags 0x17: UINT16 value 0x0050 = 80 bpm, contact detected, RR 820/1024 s.
UINT16_WITH_RR = bytes([0x17, 0x50, 0x00, 0x34, 0x03])
# flags 0x14: contact supported but NOT detected (the strap is off the skin), with an RR.
NO_CONTACT = bytes([0x14, 0x48, 0x00, 0x04])


def test_an_8_bit_reading_without_contact_support_is_stored() -> None:
    measurement = parse_measurement(PLAIN_8BIT)
    assert (measurement.bpm, measurement.contact, measurement.rr_ms) == (72, None, ())
    samples = heart_rate_samples(PLAIN_8BIT, STRAP, T)
    assert [(s.kind, s.t, s.v) for s in samples] == [("heart_rate", T, 72.0)]


def test_a_16_bit_value_is_read_little_endian() -> None:
    assert parse_measurement(PLAIN_16BIT).bpm == 140
    assert parse_measurement(UINT16_WITH_RR).bpm == 80


def test_rr_intervals_become_milliseconds_ending_at_the_reading() -> None:
    measurement = parse_measurement(CONTACT_WITH_RR)
    assert measurement.contact is True
    assert measurement.rr_ms == (1000.0, 798 * 1000 / 1024)
    samples = heart_rate_samples(CONTACT_WITH_RR, STRAP, T)
    assert [(s.kind, s.v) for s in samples] == [
        ("heart_rate", 75.0),
        ("rr_interval", 1000.0),
        ("rr_interval", pytest.approx(779.296875)),
    ]
    # The last interval ends at the notification; the one before ended where it began.
    assert samples[2].t == T
    assert samples[1].t == pytest.approx(T - 0.779296875)
    all_checked(samples)  # every one fits its sensor kind


def test_energy_expended_is_read_and_skipped_over_to_the_rr_intervals() -> None:
    measurement = parse_measurement(WITH_ENERGY)
    assert (measurement.bpm, measurement.energy_kj, measurement.rr_ms) == (90, 10000, (750.0,))


def test_a_reading_without_skin_contact_is_not_stored() -> None:
    assert parse_measurement(NO_CONTACT).contact is False
    assert heart_rate_samples(NO_CONTACT, STRAP, T) == []
    assert heart_rate_samples(bytes([0x04, 0x00]), STRAP, T) == []


def test_values_outside_the_kinds_are_left_out_not_raised() -> None:
    # 0 bpm while a strap settles, and an RR of 5 s (a missed beat): neither is a reading.
    settling = bytes([0x10, 0x00, 0x00, 0x14])
    assert heart_rate_samples(settling, STRAP, T) == []


def test_keys_are_stable_for_a_reading_and_differ_between_readings() -> None:
    first = heart_rate_samples(CONTACT_WITH_RR, STRAP, T)
    again = heart_rate_samples(CONTACT_WITH_RR, STRAP.lower(), T)
    assert [s.key for s in first] == [s.key for s in again]
    assert len({s.key for s in first}) == len(first)
    later = heart_rate_samples(CONTACT_WITH_RR, STRAP, T + 1)
    assert not {s.key for s in first} & {s.key for s in later}
    other_strap = heart_rate_samples(CONTACT_WITH_RR, "AA:BB:CC:DD:EE:FF", T)
    assert not {s.key for s in first} & {s.key for s in other_strap}


@pytest.mark.parametrize(
    ("packet", "says"),
    [
        (b"", "empty"),
        (bytes([0x01, 0x48]), "16-bit heart rate"),
        (bytes([0x00]), "8-bit heart rate"),
        (bytes([0x08, 0x48, 0x10]), "energy expended"),
        (bytes([0x10, 0x48, 0x00, 0x04, 0x01]), "whole 2-byte values"),
    ],
)
def test_short_or_malformed_packets_raise_a_clear_error(packet: bytes, says: str) -> None:
    with pytest.raises(HeartRatePacketError, match=says):
        heart_rate_samples(packet, STRAP, T)


def test_rr_flag_with_no_intervals_left_is_a_plain_reading() -> None:
    assert heart_rate_samples(bytes([0x10, 0x48]), STRAP, T)[0].v == 72.0
