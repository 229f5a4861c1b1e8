"""Sensor batches and status frames: the data frames that travel as JSON text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.errors import INVALID_FIELD, ProtocolError
from devices.fields import check_number, get_bool, get_int, get_number, get_seq, require
from devices.sensor_kinds import SENSOR_KINDS, SensorKind, SensorKindTable

MAX_SAMPLES_PER_BATCH = 1000
# Unix seconds from 2000-01-01 to 2200-01-01: anything outside is a clock bug.
MIN_TIME, MAX_TIME = 946_684_800.0, 7_258_118_400.0
# How far a frame's time may run ahead of the receiver's clock (time zones and drift fit in a
# day); later is a wrong device clock, and such data would sort after everything to come.
MAX_AHEAD_S = 86_400.0

SAMPLE_KINDS = SENSOR_KINDS.names
_NUMBER_TYPES = (int, float)  # exact types: a JSON true or false is not a number here
_NUMBER_SET = frozenset(_NUMBER_TYPES)


@dataclass(frozen=True)
class Sample:
    """One measurement: a kind, when, and a number (or a short list of numbers)."""

    kind: str
    t: float
    v: float | tuple[float, ...]

    def to_wire(self) -> dict[str, Any]:
        """The sample as JSON."""
        value = list(self.v) if isinstance(self.v, tuple) else self.v
        return {"kind": self.kind, "t": self.t, "v": value}

    @classmethod
    def from_wire(cls, obj: Any, index: int, kinds: SensorKindTable = SENSOR_KINDS) -> Sample:
        """Validate one sample of a batch's ``samples`` list."""
        where = f"sensor_batch.samples[{index}]"
        if not isinstance(obj, dict):
            raise ProtocolError(INVALID_FIELD, f"{where} must be an object with kind, t and v")
        kind = _checked_kind(obj.get("kind"), f"{where}.kind", kinds)
        return cls.checked(kind, obj.get("t"), require(obj, where, "v"), where)

    @classmethod
    def checked(cls, kind: SensorKind, t: Any, raw: Any, where: str, position: str = "") -> Sample:
        """A sample of this kind from its time and value, or an error naming the field."""
        t = check_number(t, f"{where}.t{position}", MIN_TIME, MAX_TIME)
        value_where = f"{where}.v{position}"
        if kind.scalar:
            value = check_number(raw, value_where, kind.low, kind.high)
            if kind.whole and not value.is_integer():
                raise ProtocolError(
                    INVALID_FIELD, f"{value_where} must be a whole number of {kind.unit}"
                )
            return cls(kind.name, t, value)
        shortest, longest = kind.dimensions
        if not isinstance(raw, list) or not shortest <= len(raw) <= longest:
            count = str(shortest) if shortest == longest else f"{shortest} to {longest}"
            raise ProtocolError(INVALID_FIELD, f"{value_where} must be a list of {count} numbers")
        numbers = tuple(check_number(x, value_where, kind.low, kind.high) for x in raw)
        if kind.whole and not all(x.is_integer() for x in numbers):
            raise ProtocolError(
                INVALID_FIELD, f"{value_where} must be whole numbers of {kind.unit}"
            )
        for i, (part, number) in enumerate(zip(kind.parts, numbers, strict=False)):
            if not part.low <= number <= part.high:
                raise ProtocolError(
                    INVALID_FIELD,
                    f"{value_where}[{i}], the {part.name}, is {number:g}; it must be from "
                    f"{part.low:g} to {part.high:g}",
                )
        return cls(kind.name, t, numbers)


def check_not_ahead(
    frame_type: str, seq: int, t: float, now: float, max_ahead: float = MAX_AHEAD_S
) -> None:
    """Refuse a frame whose time ``t`` is more than ``max_ahead`` seconds after ``now`` (the
    receiver's clock); the error names the frame, so the device drops it, and says to fix the
    clock."""
    if t <= now + max_ahead:
        return
    raise ProtocolError(
        INVALID_FIELD,
        f"{frame_type} seq {seq} is timed {(t - now) / 3600:,.1f} h ahead of the hub's clock "
        f"(at most {max_ahead / 3600:g} h is taken); set the device's clock (NTP) and send new "
        "frames: this one is refused and should be dropped",
        seq,
    )


def _checked_kind(kind: Any, where: str, kinds: SensorKindTable) -> SensorKind:
    found = kinds.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ProtocolError(
            INVALID_FIELD,
            f"{where} is {kind!r:.40}; use one of {', '.join(sorted(kinds.names))}",
        )
    return found


def _all_numbers(items: list[Any]) -> bool:
    """True when every item is a JSON number (a JSON true or false is not); checked in C."""
    return set(map(type, items)) <= _NUMBER_SET


def _finite_within(items: list[float], low: float, high: float) -> bool:
    """True when all numbers lie in [low, high]; the sum is NaN when any of them is."""
    try:
        total = sum(items)
    except OverflowError:  # an integer too large for a float: out of range anyway
        return False
    return bool(total == total and low <= min(items) and max(items) <= high)


def _checked_rows(raw: list[Any], kinds: SensorKindTable) -> Iterator[tuple[str, float, Any]]:
    """(kind, t, v) of each sample of a ``samples`` list, or an error naming the bad one."""
    scalars = kinds.scalar_bounds
    for index, obj in enumerate(raw):
        # Fast path for a well-formed scalar sample: the same checks inline (NaN and
        # infinities fail the comparisons); anything else says exactly what is wrong.
        if type(obj) is dict:
            kind: Any = obj.get("kind")
            t: Any = obj.get("t")
            v: Any = obj.get("v")
            bounds = scalars.get(kind) if type(kind) is str else None
            if (
                bounds is not None
                and type(t) in _NUMBER_TYPES
                and type(v) in _NUMBER_TYPES
                and MIN_TIME <= t <= MAX_TIME
                and bounds[0] <= v <= bounds[1]
                and (not bounds[2] or float(v).is_integer())
            ):
                yield kind, float(t), float(v)
                continue
        sample = Sample.from_wire(obj, index, kinds)
        yield sample.kind, sample.t, sample.v


@dataclass(frozen=True)
class Series:
    """Samples of one kind in a batch: their times and values side by side."""

    kind: str
    t: tuple[float, ...]
    v: tuple[float | tuple[float, ...], ...]

    def to_wire(self) -> dict[str, Any]:
        """The series as JSON."""
        values = [list(x) if isinstance(x, tuple) else x for x in self.v]
        return {"kind": self.kind, "t": list(self.t), "v": values}

    @classmethod
    def from_wire(cls, obj: Any, index: int, kinds: SensorKindTable = SENSOR_KINDS) -> Series:
        """Validate one series of a batch's ``series`` list."""
        where = f"sensor_batch.series[{index}]"
        if not isinstance(obj, dict):
            raise ProtocolError(INVALID_FIELD, f"{where} must be an object with kind, t and v")
        kind = _checked_kind(obj.get("kind"), f"{where}.kind", kinds)
        times, values = obj.get("t"), obj.get("v")
        if type(times) is not list or type(values) is not list or len(times) != len(values):
            raise ProtocolError(
                INVALID_FIELD, f"{where}.t and {where}.v must be lists of the same length"
            )
        if not times:
            raise ProtocolError(INVALID_FIELD, f"{where} holds no samples; leave it out")
        # Fast path for the bulk of every batch, a well-formed scalar series: whole-list
        # checks run in C. Anything else is checked sample by sample, which names the culprit.
        if (
            kind.scalar
            and _all_numbers(times)
            and _all_numbers(values)
            and _finite_within(times, MIN_TIME, MAX_TIME)
            and _finite_within(values, kind.low, kind.high)
            and (not kind.whole or all(float(x).is_integer() for x in values))
        ):
            return cls(kind.name, tuple(map(float, times)), tuple(map(float, values)))
        samples = [
            Sample.checked(kind, t, v, where, f"[{i}]")
            for i, (t, v) in enumerate(zip(times, values, strict=True))
        ]
        return cls(kind.name, tuple(x.t for x in samples), tuple(x.v for x in samples))


@dataclass(frozen=True)
class SensorBatch:
    """Up to 1000 samples under one sequence number, kept as one series per kind."""

    TYPE: ClassVar[str] = "sensor_batch"
    seq: int
    series: tuple[Series, ...]

    @classmethod
    def of(cls, seq: int, samples: Iterable[Sample]) -> SensorBatch:
        """A batch of these samples: one series per kind, in the order the kinds first come."""
        return cls.grouped(seq, ((sample.kind, sample.t, sample.v) for sample in samples))

    @classmethod
    def grouped(cls, seq: int, triples: Iterable[tuple[str, float, Any]]) -> SensorBatch:
        """A batch of (kind, time, value) rows, one series per kind in the order they come."""
        grouped: dict[str, tuple[list[float], list[Any]]] = {}
        for kind, t, v in triples:
            times, values = grouped.setdefault(kind, ([], []))
            times.append(t)
            values.append(v)
        return cls(seq, tuple(Series(k, tuple(t), tuple(v)) for k, (t, v) in grouped.items()))

    @property
    def count(self) -> int:
        """How many samples the batch holds."""
        return sum(len(series.t) for series in self.series)

    @property
    def latest(self) -> float:
        """The time of the batch's latest sample."""
        return max(max(series.t) for series in self.series)

    @property
    def samples(self) -> tuple[Sample, ...]:
        """The samples one by one, series after series."""
        return tuple(
            Sample(series.kind, t, v)
            for series in self.series
            for t, v in zip(series.t, series.v, strict=True)
        )

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON, in the compact form (a series per kind)."""
        return {"type": self.TYPE, "seq": self.seq, "series": [s.to_wire() for s in self.series]}

    @classmethod
    def from_wire(cls, obj: dict[str, Any], kinds: SensorKindTable = SENSOR_KINDS) -> SensorBatch:
        """Validate a sensor_batch frame, in either form: ``samples`` or ``series``, against
        the sensor kind table (the hub's own unless another is given)."""
        seq = get_seq(obj, cls.TYPE)
        rows, columns = obj.get("samples"), obj.get("series")
        try:
            if rows is not None and columns is None:
                batch = cls._from_rows(seq, rows, kinds)
            elif columns is not None and rows is None:
                batch = cls._from_columns(seq, columns, kinds)
            else:
                raise ProtocolError(
                    INVALID_FIELD,
                    "sensor_batch needs either samples (a list of {kind, t, v}) or series "
                    "(a list of {kind, t: [...], v: [...]}), not both",
                )
        except ProtocolError as exc:
            raise ProtocolError(exc.code, exc.message, seq) from exc
        return batch

    @classmethod
    def _from_rows(cls, seq: int, raw: Any, kinds: SensorKindTable) -> SensorBatch:
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SAMPLES_PER_BATCH:
            raise ProtocolError(
                INVALID_FIELD,
                f"sensor_batch.samples must be a list of 1 to {MAX_SAMPLES_PER_BATCH} samples",
            )
        return cls.grouped(seq, _checked_rows(raw, kinds))

    @classmethod
    def _from_columns(cls, seq: int, raw: Any, kinds: SensorKindTable) -> SensorBatch:
        if not isinstance(raw, list) or not raw:
            raise ProtocolError(INVALID_FIELD, "sensor_batch.series must be a list of series")
        series = (Series.from_wire(item, i, kinds) for i, item in enumerate(raw))
        batch = cls(seq, tuple(series))
        if batch.count > MAX_SAMPLES_PER_BATCH:
            raise ProtocolError(
                INVALID_FIELD,
                f"sensor_batch holds {batch.count} samples; at most {MAX_SAMPLES_PER_BATCH}: "
                "split it",
            )
        return batch


@dataclass(frozen=True)
class Status:
    """Battery and charging state, kept on the device record."""

    TYPE: ClassVar[str] = "status"
    seq: int
    t: float
    battery: int
    charging: bool

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {
            "type": self.TYPE,
            "seq": self.seq,
            "t": self.t,
            "battery": self.battery,
            "charging": self.charging,
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Status:
        """Validate a status frame."""
        seq = get_seq(obj, cls.TYPE)
        try:
            return cls(
                seq,
                get_number(obj, cls.TYPE, "t", MIN_TIME, MAX_TIME),
                get_int(obj, cls.TYPE, "battery", 0, 100),
                get_bool(obj, cls.TYPE, "charging"),
            )
        except ProtocolError as exc:
            raise ProtocolError(exc.code, exc.message, seq) from exc
