"""Local wall-clock times to UTC: zones, the spring gap and the repeated autumn hour."""

from __future__ import annotations

from datetime import datetime

import pytest

from devices.imports.common import LocalClock, local_zone, named_zone, split_steps

BERLIN = named_zone("Europe/Berlin")


def berlin(clock: LocalClock, text: str) -> float:
    return clock.utc(datetime.fromisoformat(text))


def utc(text: str) -> float:
    return datetime.fromisoformat(text + "+00:00").timestamp()


def test_summer_and_winter_times_take_their_offsets() -> None:
    clock = LocalClock(BERLIN)
    assert berlin(clock, "2024-01-15 08:00:00") == utc("2024-01-15 07:00:00")
    assert berlin(clock, "2024-07-15 08:00:00") == utc("2024-07-15 06:00:00")


def test_a_time_in_the_skipped_spring_hour_is_read_with_the_offset_before_it() -> None:
    # 2024-03-31 in Berlin: 02:00 CET became 03:00 CEST, so 02:30 never showed on a clock
    # that changed; a device that had not changed yet meant 02:30 CET (= 03:30 CEST).
    clock = LocalClock(BERLIN)
    assert berlin(clock, "2024-03-31 01:55:00") == utc("2024-03-31 00:55:00")
    assert berlin(clock, "2024-03-31 02:30:00") == utc("2024-03-31 01:30:00")
    assert berlin(clock, "2024-03-31 03:30:00") == utc("2024-03-31 01:30:00")


def test_the_repeated_autumn_hour_in_time_order_is_read_twice_over() -> None:
    # 2024-10-27 in Berlin: 03:00 CEST went back to 02:00 CET; 02:00-02:59 shows twice.
    clock = LocalClock(BERLIN)
    first = [f"2024-10-27 02:{m:02d}:00" for m in range(0, 60, 20)]
    second = [f"2024-10-27 02:{m:02d}:00" for m in range(0, 60, 20)]
    times = [berlin(clock, text) for text in ["2024-10-27 01:40:00", *first, *second]]
    times.append(berlin(clock, "2024-10-27 03:00:00"))
    start = utc("2024-10-26 23:40:00")
    assert times == [start + 1200 * i for i in range(len(times))]


def test_an_ambiguous_time_alone_is_the_earlier_instant() -> None:
    clock = LocalClock(BERLIN)
    assert berlin(clock, "2024-10-27 02:30:00") == utc("2024-10-27 00:30:00")
    # Out of order (a later day first): still the earlier instant, not the repeat.
    clock = LocalClock(BERLIN)
    berlin(clock, "2024-11-05 10:00:00")
    assert berlin(clock, "2024-10-27 02:30:00") == utc("2024-10-27 00:30:00")


def test_an_unknown_zone_names_the_fix() -> None:
    with pytest.raises(ValueError, match="IANA name such as Europe/Berlin"):
        named_zone("Mars/Olympus")


def test_the_machine_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    zone = local_zone()
    assert (
        datetime(2024, 7, 1, tzinfo=zone).utcoffset()
        != datetime(2024, 1, 1, tzinfo=zone).utcoffset()
    )


def test_steps_are_split_under_the_bound_and_sum_to_the_count() -> None:
    parts = list(split_steps(30_001, 0.0, 4.0, "k"))
    assert [p.v for p in parts] == [7501, 7500, 7500, 7500]
    assert [p.t for p in parts] == [1.0, 2.0, 3.0, 4.0]
    assert [p.key for p in parts] == ["k|1/4", "k|2/4", "k|3/4", "k|4/4"]
    assert list(split_steps(0, 0.0, 1.0, "k")) == []
    assert [p.key for p in split_steps(10_000, 0.0, 1.0, "k")] == ["k"]
