"""Sensor batches and status frames: the data frames that travel as JSON text."""

from __future__ import annotations

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
        """Validate one sample of a batch."""
        # Fast path for the bulk of every batch, a well-formed scalar sample: the same checks
        # inline (NaN and infinities fail the comparisons); anything else takes the slow path,
        # which says exactly what is wrong.
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
                return cls(kind, float(t), float(v))
        return cls._checked(obj, index)

    @classmethod
    def _checked(cls, obj: Any, index: int) -> Sample:
        where = f"sensor_batch.samples[{index}]"
        if not isinstance(obj, dict):
            raise ProtocolError(INVALID_FIELD, f"{where} must be an object with kind, t and v")
        kind = obj.get("kind")
        if kind not in SAMPLE_KINDS:
            raise ProtocolError(
                INVALID_FIELD,
                f"{where}.kind is {kind!r:.40}; use one of {', '.join(sorted(SAMPLE_KINDS))}",
            )
        t = check_number(obj.get("t"), f"{where}.t", MIN_TIME, MAX_TIME)
        raw = require(obj, where, "v")
        if kind in SCALAR_RANGES:
            low, high = SCALAR_RANGES[kind]
            value = check_number(raw, f"{where}.v", low, high)
            if kind == "steps" and not value.is_integer():
                raise ProtocolError(INVALID_FIELD, f"{where}.v must be a whole number of steps")
            return cls(kind, t, value)
        shortest, longest = VECTOR_KINDS[kind]
        if not isinstance(raw, list) or not shortest <= len(raw) <= longest:
            raise ProtocolError(
                INVALID_FIELD, f"{where}.v must be a list of {shortest} to {longest} numbers"
            )
        numbers = tuple(check_number(x, f"{where}.v", -1e6, 1e6) for x in raw)
        if kind == "location" and not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
            raise ProtocolError(INVALID_FIELD, f"{where}.v is not a latitude and longitude")
        return cls(kind, t, numbers)


@dataclass(frozen=True)
class SensorBatch:
    """Up to 1000 samples under one sequence number."""

    TYPE: ClassVar[str] = "sensor_batch"
    seq: int
    samples: tuple[Sample, ...]

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "seq": self.seq, "samples": [s.to_wire() for s in self.samples]}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> SensorBatch:
        """Validate a sensor_batch frame."""
        seq = get_seq(obj, cls.TYPE)
        raw = obj.get("samples")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SAMPLES_PER_BATCH:
            raise ProtocolError(
                INVALID_FIELD,
                f"sensor_batch.samples must be a list of 1 to {MAX_SAMPLES_PER_BATCH} samples",
                seq,
            )
        try:
            samples = tuple(Sample.from_wire(item, i) for i, item in enumerate(raw))
        except ProtocolError as exc:
            raise ProtocolError(exc.code, exc.message, seq) from exc
        return cls(seq, samples)


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
