"""Sensor batches and status frames: the data frames that travel as JSON text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.errors import INVALID_FIELD, ProtocolError
from devices.fields import check_number, get_bool, get_int, get_number, get_seq, require

MAX_SAMPLES_PER_BATCH = 1000
# Unix seconds from 2000-01-01 to 2200-01-01: anything outside is a clock bug.
MIN_TIME, MAX_TIME = 946_684_800.0, 7_258_118_400.0

SCALAR_RANGES: dict[str, tuple[float, float]] = {
    "heart_rate": (20, 250),
    "steps": (0, 10_000),
    "spo2": (50, 100),
    "skin_temp": (20, 45),
    "glucose": (20, 600),
}
VECTOR_KINDS = {"imu": (6, 6), "location": (2, 3)}
SAMPLE_KINDS = frozenset(SCALAR_RANGES) | frozenset(VECTOR_KINDS)
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
    def from_wire(cls, obj: Any, index: int) -> Sample:
        """Validate one sample of a batch's ``samples`` list."""
        where = f"sensor_batch.samples[{index}]"
        if not isinstance(obj, dict):
            raise ProtocolError(INVALID_FIELD, f"{where} must be an object with kind, t and v")
        kind = _checked_kind(obj.get("kind"), f"{where}.kind")
        return cls.checked(kind, obj.get("t"), require(obj, where, "v"), where)

    @classmethod
    def checked(cls, kind: str, t: Any, raw: Any, where: str, position: str = "") -> Sample:
        """A sample of a known kind from its time and value, or an error naming the field."""
        t = check_number(t, f"{where}.t{position}", MIN_TIME, MAX_TIME)
        value_where = f"{where}.v{position}"
        if kind in SCALAR_RANGES:
            low, high = SCALAR_RANGES[kind]
            value = check_number(raw, value_where, low, high)
            if kind == "steps" and not value.is_integer():
                raise ProtocolError(INVALID_FIELD, f"{value_where} must be a whole number of steps")
            return cls(kind, t, value)
        shortest, longest = VECTOR_KINDS[kind]
        if not isinstance(raw, list) or not shortest <= len(raw) <= longest:
            raise ProtocolError(
                INVALID_FIELD, f"{value_where} must be a list of {shortest} to {longest} numbers"
            )
        numbers = tuple(check_number(x, value_where, -1e6, 1e6) for x in raw)
        if kind == "location" and not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
            raise ProtocolError(INVALID_FIELD, f"{value_where} is not a latitude and longitude")
        return cls(kind, t, numbers)


def _checked_kind(kind: Any, where: str) -> str:
    if not isinstance(kind, str) or kind not in SAMPLE_KINDS:
        raise ProtocolError(
            INVALID_FIELD,
            f"{where} is {kind!r:.40}; use one of {', '.join(sorted(SAMPLE_KINDS))}",
        )
    return str(kind)


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


def _checked_rows(raw: list[Any]) -> Iterator[tuple[str, float, Any]]:
    """(kind, t, v) of each sample of a ``samples`` list, or an error naming the bad one."""
    for index, obj in enumerate(raw):
        # Fast path for a well-formed scalar sample: the same checks inline (NaN and
        # infinities fail the comparisons); anything else says exactly what is wrong.
        if type(obj) is dict:
            kind: Any = obj.get("kind")
            t: Any = obj.get("t")
            v: Any = obj.get("v")
            bounds = SCALAR_RANGES.get(kind) if type(kind) is str else None
            if (
                bounds is not None
                and type(t) in _NUMBER_TYPES
                and type(v) in _NUMBER_TYPES
                and MIN_TIME <= t <= MAX_TIME
                and bounds[0] <= v <= bounds[1]
                and (kind != "steps" or float(v).is_integer())
            ):
                yield kind, float(t), float(v)
                continue
        sample = Sample.from_wire(obj, index)
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
    def from_wire(cls, obj: Any, index: int) -> Series:
        """Validate one series of a batch's ``series`` list."""
        where = f"sensor_batch.series[{index}]"
        if not isinstance(obj, dict):
            raise ProtocolError(INVALID_FIELD, f"{where} must be an object with kind, t and v")
        kind = _checked_kind(obj.get("kind"), f"{where}.kind")
        times, values = obj.get("t"), obj.get("v")
        if type(times) is not list or type(values) is not list or len(times) != len(values):
            raise ProtocolError(
                INVALID_FIELD, f"{where}.t and {where}.v must be lists of the same length"
            )
        if not times:
            raise ProtocolError(INVALID_FIELD, f"{where} holds no samples; leave it out")
        # Fast path for the bulk of every batch, a well-formed scalar series: whole-list
        # checks run in C. Anything else is checked sample by sample, which names the culprit.
        bounds = SCALAR_RANGES.get(kind)
        if (
            bounds is not None
            and _all_numbers(times)
            and _all_numbers(values)
            and _finite_within(times, MIN_TIME, MAX_TIME)
            and _finite_within(values, *bounds)
            and (kind != "steps" or all(float(x).is_integer() for x in values))
        ):
            return cls(kind, tuple(map(float, times)), tuple(map(float, values)))
        samples = [
            Sample.checked(kind, t, v, where, f"[{i}]")
            for i, (t, v) in enumerate(zip(times, values, strict=True))
        ]
        return cls(kind, tuple(x.t for x in samples), tuple(x.v for x in samples))


@dataclass(frozen=True)
class SensorBatch:
    """Up to 1000 samples under one sequence number, kept as one series per kind."""

    TYPE: ClassVar[str] = "sensor_batch"
    seq: int
    series: tuple[Series, ...]

    @classmethod
    def of(cls, seq: int, samples: Iterable[Sample]) -> SensorBatch:
        """A batch of these samples: one series per kind, in the order the kinds first come."""
        return cls._grouped(seq, ((sample.kind, sample.t, sample.v) for sample in samples))

    @classmethod
    def _grouped(cls, seq: int, triples: Iterable[tuple[str, float, Any]]) -> SensorBatch:
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
    def from_wire(cls, obj: dict[str, Any]) -> SensorBatch:
        """Validate a sensor_batch frame, in either form: ``samples`` or ``series``."""
        seq = get_seq(obj, cls.TYPE)
        rows, columns = obj.get("samples"), obj.get("series")
        try:
            if rows is not None and columns is None:
                batch = cls._from_rows(seq, rows)
            elif columns is not None and rows is None:
                batch = cls._from_columns(seq, columns)
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
    def _from_rows(cls, seq: int, raw: Any) -> SensorBatch:
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SAMPLES_PER_BATCH:
            raise ProtocolError(
                INVALID_FIELD,
                f"sensor_batch.samples must be a list of 1 to {MAX_SAMPLES_PER_BATCH} samples",
            )
        return cls._grouped(seq, _checked_rows(raw))

    @classmethod
    def _from_columns(cls, seq: int, raw: Any) -> SensorBatch:
        if not isinstance(raw, list) or not raw:
            raise ProtocolError(INVALID_FIELD, "sensor_batch.series must be a list of series")
        batch = cls(seq, tuple(Series.from_wire(item, i) for i, item in enumerate(raw)))
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
