"""Which models this box can run well, and what each would cost it.

Decoding reads every weight once per token, so on a CPU a model's speed is the memory traffic
the cores can sustain divided by the model's size in bytes. The rule, measured on this
project's 2-core test machine (AVX-512, DDR4): llama.cpp decoded SmolLM2 135M Q4_1 (98 MB) at
131 to 141 tokens/s with 2 threads, about 6.5 GB/s of weights read per core. More cores read
more, until the memory bus is the limit: assumed 25 GB/s, what dual-channel DDR4 typically
sustains (an assumption, not measured here). Without AVX2 on x86, llama.cpp is about three
times slower. Prompt reading (prefill) is compute-bound and not estimated.

Memory: the file is mapped whole, plus the context's KV cache and buffers, taken as 10% of
the file and 0.5 GB; the hub itself (embedder, speech, databases) keeps 1.5 GB for itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hub.models.known_models import KNOWN_MODELS, KnownModel

GB = 1_000_000_000
BYTES_PER_SECOND_PER_CORE = 6.5 * GB
MEMORY_BUS_BYTES_PER_SECOND = 25 * GB
NO_AVX2_SLOWDOWN = 3.0
HUB_RESERVE_BYTES = int(1.5 * GB)
RUNS_WELL_TOKENS_PER_S = 8.0  # faster than most people read
USABLE_TOKENS_PER_S = 3.0
FAR_LARGER = 4.0  # `hub doctor` speaks up when the box could run a model this many times larger


@dataclass(frozen=True)
class MachineFacts:
    """What decides which models a box can run."""

    memory_bytes: int  # available now (MemAvailable), not installed
    cores: int
    cpu_flags: frozenset[str]
    arm: bool

    @property
    def vector_unit(self) -> str:
        """The SIMD llama.cpp can use, as a person would name it."""
        if self.arm:
            return "NEON" if {"asimd", "neon"} & self.cpu_flags else "no NEON"
        for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
            if flag in self.cpu_flags:
                return name
        return "no AVX"

    @property
    def slow_cpu(self) -> bool:
        """True when llama.cpp lacks its fast paths here."""
        if self.arm:
            return not {"asimd", "neon"} & self.cpu_flags
        return "avx2" not in self.cpu_flags


def read_machine_facts(
    meminfo: Path = Path("/proc/meminfo"), cpuinfo: Path = Path("/proc/cpuinfo")
) -> MachineFacts:
    """This box's memory (available, in bytes), usable cores and CPU feature flags."""
    memory = 0
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                memory = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        memory = 0
    flags: set[str] = set()
    arm = False
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.split(":", 1)[1].split())
                arm = arm or line.startswith("Features")
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return MachineFacts(memory, cores or 1, frozenset(flags), arm)


def decode_bytes_per_second(facts: MachineFacts) -> float:
    """Weights this box can read per second while decoding, by the rule above."""
    rate = min(BYTES_PER_SECOND_PER_CORE * facts.cores, MEMORY_BUS_BYTES_PER_SECOND)
    return rate / NO_AVX2_SLOWDOWN if facts.slow_cpu else rate


def memory_needed(file_bytes: int) -> int:
    """Memory a model takes while serving, by the rule above."""
    return int(file_bytes * 1.1 + 0.5 * GB)


@dataclass(frozen=True)
class Suggestion:
    """A known model with its cost on this box."""

    model: KnownModel
    memory_bytes: int
    tokens_per_s: float
    fits: bool
    verdict: str  # "runs well", "usable", "too slow" or "too big"


def suggest(facts: MachineFacts) -> list[Suggestion]:
    """Every known model with its verdict here, the largest that runs well first."""
    rate = decode_bytes_per_second(facts)
    room = facts.memory_bytes - HUB_RESERVE_BYTES
    rows = []
    for model in KNOWN_MODELS:
        needed = memory_needed(model.file_bytes)
        speed = rate / model.file_bytes
        fits = needed <= room
        if not fits:
            verdict = "too big"
        elif speed >= RUNS_WELL_TOKENS_PER_S:
            verdict = "runs well"
        elif speed >= USABLE_TOKENS_PER_S:
            verdict = "usable"
        else:
            verdict = "too slow"
        rows.append(Suggestion(model, needed, speed, fits, verdict))
    order = {"runs well": 0, "usable": 1, "too slow": 2, "too big": 3}
    return sorted(rows, key=lambda row: (order[row.verdict], -row.model.file_bytes))


def best_fit(facts: MachineFacts) -> Suggestion | None:
    """The largest known model that runs well here, if any."""
    good = [row for row in suggest(facts) if row.verdict == "runs well"]
    return good[0] if good else None
