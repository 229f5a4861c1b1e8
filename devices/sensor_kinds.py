"""The sensor kinds a device may send: one entry per kind, read by validation, storage,
summaries, the API (``GET /v1/devices/kinds``), the web UI's charts, the CLI and the docs' test.

Adding a kind is one ``SensorKind`` entry in ``SENSOR_KINDS`` below and one row in the kinds
table of docs/device-protocol.md (a test compares the two). Validation, storage, rollups (of
scalar kinds), the API and the Devices page pick it up from here; a kind with ``charted=True``
gets a live chart on a device that lists it among its capabilities.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Any one number of a vector kind: beyond this it is a unit or encoding bug, not a reading.
VECTOR_LIMIT = 1e6


@dataclass(frozen=True)
class Part:
    """One position of a vector kind's list, with a range of its own where it needs one."""

    name: str
    unit: str
    low: float = -VECTOR_LIMIT
    high: float = VECTOR_LIMIT


@dataclass(frozen=True)
class SensorKind:
    """Everything the hub knows about one kind of sample."""

    name: str  # as it travels: `kind` in a sensor batch
    label: str  # as a person reads it: a chart's title, a stream in a device's rates
    unit: str
    low: float  # every number of a sample lies in [low, high]
    high: float
    description: str  # one line: what `v` is
    whole: bool = False  # whole numbers only (a count)
    dimensions: tuple[int, int] = (1, 1)  # (1, 1): a bare number; else a list of min..max
    parts: tuple[Part, ...] = ()  # a vector's positions, in order (the optional ones last)
    charted: bool = False  # the Devices page draws a live chart of it
    chart_floor: tuple[float, float] | None = None  # the y range a chart always shows
    target_band: tuple[float, float] | None = None  # the healthy range, shaded on the chart

    @property
    def scalar(self) -> bool:
        """True when a sample's ``v`` is one number, False when it is a list."""
        return self.dimensions == (1, 1)


class SensorKindTable:
    """Sensor kinds by name, with the bounds the validation fast path reads precomputed."""

    def __init__(self, kinds: Iterable[SensorKind]) -> None:
        by_name = {kind.name: kind for kind in kinds}
        self._by_name: Mapping[str, SensorKind] = MappingProxyType(by_name)
        self.names: frozenset[str] = frozenset(by_name)
        # (low, high, whole numbers only) of each scalar kind: one lookup per series or sample.
        self.scalar_bounds: Mapping[str, tuple[float, float, bool]] = MappingProxyType(
            {k.name: (k.low, k.high, k.whole) for k in by_name.values() if k.scalar}
        )

    def __iter__(self) -> Iterator[SensorKind]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> SensorKind:
        return self._by_name[name]

    def get(self, name: str) -> SensorKind | None:
        """The kind called ``name``, or None."""
        return self._by_name.get(name)

    def with_kinds(self, *extra: SensorKind) -> SensorKindTable:
        """A copy of this table with ``extra`` added (or, by name, replacing an entry)."""
        return SensorKindTable([*self, *extra])


# sleep_stage codes: 0-3 run from awake to deepest so a chart of them reads as a hypnogram;
# 4 and 5 are what a source says when it does not tell the stage (older watches, phones).
SLEEP_STAGE_CODES: Mapping[str, int] = MappingProxyType(
    {"awake": 0, "rem": 1, "light": 2, "deep": 3, "asleep": 4, "in_bed": 5}
)
SLEEP_STAGE_DESCRIPTION = (
    "the stage during the minute from t: 0 awake, 1 REM, 2 light (core), 3 deep, "
    "4 asleep (stage not told), 5 in bed"
)


def _degrees(name: str, limit: float) -> Part:
    return Part(name, "°", -limit, limit)


SENSOR_KINDS = SensorKindTable(
    [
        SensorKind(
            "heart_rate",
            "Heart rate",
            "bpm",
            20,
            250,
            "beats per minute",
            charted=True,
            chart_floor=(50, 110),
        ),
        SensorKind(
            "steps", "Steps", "steps", 0, 10_000, "steps since the previous sample", whole=True
        ),
        SensorKind("spo2", "SpO₂", "%", 50, 100, "blood oxygen saturation"),
        SensorKind("skin_temp", "Skin temperature", "°C", 20, 45, "skin temperature"),
        SensorKind(
            "glucose",
            "Glucose",
            "mg/dL",
            20,
            600,
            "blood glucose from a continuous glucose monitor",
            charted=True,
            chart_floor=(60, 200),
            # The target range of the international consensus on CGM metrics (Battelino et
            # al., Diabetes Care 2019): below 70 is a low, above 180 a high.
            target_band=(70, 180),
        ),
        SensorKind(
            "imu",
            "Motion",
            "m/s², rad/s",
            -VECTOR_LIMIT,
            VECTOR_LIMIT,
            "acceleration and rotation: [ax, ay, az, gx, gy, gz]",
            dimensions=(6, 6),
            parts=(
                *(Part(axis, "m/s²") for axis in ("ax", "ay", "az")),
                *(Part(axis, "rad/s") for axis in ("gx", "gy", "gz")),
            ),
        ),
        SensorKind(
            "location",
            "Location",
            "°, °, m",
            -VECTOR_LIMIT,
            VECTOR_LIMIT,
            "[latitude, longitude] or [latitude, longitude, accuracy_m]",
            dimensions=(2, 3),
            parts=(_degrees("latitude", 90), _degrees("longitude", 180), Part("accuracy", "m")),
        ),
        # The span of heart_rate's 20..250 bpm as beat-to-beat times (240..3000 ms), with room
        # below for a few beats faster than that; anything else is a strap's artefact.
        SensorKind(
            "rr_interval",
            "RR interval",
            "ms",
            200,
            3000,
            "time between two heartbeats, from a chest strap or watch",
        ),
        SensorKind(
            "sleep_stage",
            "Sleep stage",
            "stage",
            0,
            5,
            SLEEP_STAGE_DESCRIPTION,
            whole=True,
            charted=True,
            chart_floor=(0, 5),
        ),
    ]
)


def glucose_target_band(table: SensorKindTable = SENSOR_KINDS) -> tuple[float, float]:
    """The glucose target range, (low, high) in mg/dL."""
    band = table["glucose"].target_band
    if band is None:
        raise LookupError("the glucose entry of the sensor kind table needs a target_band")
    return band
