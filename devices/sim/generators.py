"""Believable sensor data: a daily heart-rate rhythm with walks, steps, and meal-driven glucose."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from devices.samples import Sample

MEALS_H = (7.5, 12.75, 19.5)  # breakfast, lunch, dinner, local hours
DAY = 86_400.0


def _hour(t: float, utc_offset_h: float) -> float:
    return ((t / 3600.0) + utc_offset_h) % 24.0


@dataclass
class WatchGenerator:
    """Heart rate every step; steps, SpO2 and skin temperature less often."""

    seed: int = 1
    utc_offset_h: float = 0.0
    rng: random.Random = field(init=False)
    _walking_until: float = field(default=0.0, init=False)
    _count: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _awake(self, hour: float) -> bool:
        return 7.0 <= hour < 23.0

    def samples(self, t: float, step_s: float) -> list[Sample]:
        """The samples a watch would take at time ``t``, ``step_s`` after the previous ones."""
        hour = _hour(t, self.utc_offset_h)
        awake = self._awake(hour)
        if awake and t >= self._walking_until and self.rng.random() < step_s / 1800.0:
            self._walking_until = t + self.rng.uniform(300, 1500)  # a walk every ~30 min
        walking = t < self._walking_until
        # Lowest around 4 am, highest mid-afternoon; a walk adds 25-40 bpm.
        rhythm = 62 + 8 * math.sin(2 * math.pi * (hour - 10) / 24)
        bpm = rhythm + (self.rng.uniform(25, 40) if walking else 0) + self.rng.gauss(0, 2)
        out = [Sample("heart_rate", t, round(min(max(bpm, 40), 190), 1))]
        self._count += 1
        if self._count % 10 == 0:
            cadence = 1.8 if walking else (0.05 if awake else 0.0)
            steps = int(max(0, self.rng.gauss(cadence * step_s * 10, 2)))
            out.append(Sample("steps", t, float(steps)))
        if self._count % 60 == 0:
            out.append(Sample("spo2", t, round(min(100, self.rng.gauss(97.5, 0.8)), 1)))
            skin = 33.2 + 0.6 * math.sin(2 * math.pi * (hour - 3) / 24) + self.rng.gauss(0, 0.1)
            out.append(Sample("skin_temp", t, round(skin, 2)))
        return out


@dataclass
class GlucoseGenerator:
    """Glucose in mg/dL: a fasting baseline, a rise and fall of 40-80 after each meal."""

    seed: int = 1
    utc_offset_h: float = 0.0
    baseline: float = 92.0
    rng: random.Random = field(init=False)
    _drift: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def meal_rise(self, t: float) -> float:
        """mg/dL above baseline from the meals of the last few hours."""
        day_start = t - (_hour(t, self.utc_offset_h) * 3600.0)
        rise = 0.0
        for day in (day_start - DAY, day_start):
            for index, meal_h in enumerate(MEALS_H):
                minutes = (t - (day + meal_h * 3600.0)) / 60.0
                if 0 <= minutes <= 300:
                    size = (55, 75, 65)[index]
                    # Peaks about 45 minutes after eating, back near baseline after 3 hours.
                    rise += size * (minutes / 45.0) * math.exp(1 - minutes / 45.0)
        return rise

    def samples(self, t: float, step_s: float) -> list[Sample]:
        """One glucose reading at ``t``."""
        self._drift = 0.98 * self._drift + self.rng.gauss(0, 0.6)
        value = self.baseline + self.meal_rise(t) + self._drift
        return [Sample("glucose", t, round(min(max(value, 40), 400), 1))]
