"""CPU placement: the model's child process gets cores of its own, the rest of the hub the others.

Decoding a small model is bound by memory: every token reads the weights again. Hub work that
lands on the model's core (device ingest, HTTP, speech) preempts its thread and evicts what it had
cached, and on two cores the scheduler keeps moving the two around. When llama.cpp is given fewer
threads than there are CPUs, the hub keeps the two apart: the model's process runs on the last
``threads`` CPUs, everything else on the rest (the effect is measured by bench/bench_devices.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

AUTO = "auto"
OFF = "off"


class CpuPlacementError(ValueError):
    """The model_cpus setting cannot be honoured on this machine; the message says why."""


@dataclass(frozen=True)
class CpuPlacement:
    """Which CPUs the model's process may use, which the rest of the hub, and all of them."""

    model: frozenset[int]
    hub: frozenset[int]
    everything: frozenset[int]

    @property
    def split(self) -> bool:
        """True when the model and the rest of the hub run on different CPUs."""
        return self.model != self.everything

    def describe(self) -> str:
        """One line for the person starting the hub."""
        if not self.split:
            return f"the model and the hub share CPUs {format_cpu_list(self.everything)}"
        return (
            f"the model runs on CPU {format_cpu_list(self.model)}, "
            f"the rest of the hub on CPU {format_cpu_list(self.hub)}"
        )


def parse_cpu_list(text: str) -> frozenset[int]:
    """CPUs from a list like ``1``, ``2-3`` or ``0,2-3``, as in /proc's Cpus_allowed_list."""
    cpus: set[int] = set()
    for part in "".join(text.split()).split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise CpuPlacementError(
                f"model_cpus {text!r} is not a CPU list: use auto, off, or numbers and ranges "
                "like 1 or 2-3"
            )
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise CpuPlacementError(f"model_cpus range {part!r} runs backwards; write {high}-{low}")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def format_cpu_list(cpus: frozenset[int]) -> str:
    """The compact form of a CPU set: ``0,2-3``."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    parts = [str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]
    return ",".join(parts) or "none"


def available_cpus() -> frozenset[int]:
    """The CPUs this process may run on now."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def plan_placement(setting: str, threads: int, available: frozenset[int]) -> CpuPlacement:
    """Split ``available`` between the model and the hub as ``setting`` (auto, off, a list) asks."""
    shared = CpuPlacement(available, available, available)
    choice = setting.strip().lower()
    if choice == OFF or not hasattr(os, "sched_setaffinity"):
        return shared
    if choice == AUTO:
        if threads >= len(available):
            return shared
        model = frozenset(sorted(available)[-threads:])
    else:
        model = parse_cpu_list(choice)
        missing = model - available
        if missing:
            raise CpuPlacementError(
                f"model_cpus names CPU {format_cpu_list(frozenset(missing))}, but the hub may "
                f"only use CPU {format_cpu_list(available)}"
            )
        if model == available:
            return shared
    return CpuPlacement(model, available - model, available)


def pin_this_process(cpus: frozenset[int]) -> None:
    """Keep every thread of this process, and the threads and children it starts, on ``cpus``."""
    tasks = Path("/proc/self/task")
    thread_ids = [int(tid) for tid in os.listdir(tasks)] if tasks.is_dir() else [0]
    for thread_id in thread_ids:
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(thread_id, cpus)


def pin_process(pid: int, cpus: frozenset[int]) -> None:
    """Move a child just started to ``cpus``; the threads it starts later follow."""
    try:
        os.sched_setaffinity(pid, cpus)
    except (ProcessLookupError, PermissionError) as exc:
        logger.warning("could not move process %d to CPU %s: %s", pid, format_cpu_list(cpus), exc)
