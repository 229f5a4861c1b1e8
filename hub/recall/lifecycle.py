"""Start and stop memory's background work with the hub: the fact-extraction worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from hub.engine.runner import ModelRunner
from hub.recall.fact_extraction import FactExtractionWorker
from hub.recall.service import MemoryService

logger = logging.getLogger(__name__)


@dataclass
class MemoryWork:
    """The running background work of one hub's memory (nothing when memory is off)."""

    memory: MemoryService | None
    task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, memory: MemoryService | None, runner: ModelRunner) -> MemoryWork:
        """Start the extraction worker (when memory and extraction are on)."""
        if memory is None or not memory.extract_facts:
            return cls(memory)
        worker = FactExtractionWorker(memory, runner)
        return cls(memory, asyncio.create_task(worker.run(), name="fact-extraction"))

    async def stop(self) -> None:
        """Cancel the worker (the memory service itself is closed by its owner)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
