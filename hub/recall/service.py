"""MemoryService: the memory store, its fact-extraction queue and the hub's memory settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from hub.settings import Settings
from memory.background_embedder import BackgroundEmbedder, embedder_ready
from memory.embedder import (
    PACKAGED_MODEL_DIMENSION,
    PACKAGED_MODEL_NAME,
    Embedder,
    SentenceTransformerEmbedder,
)
from memory.housekeeping import StoreHousekeeping
from memory.jobs import FactJobQueue
from memory.protocol import MemoryStore
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
from memory.types import IndexProgress, ReembedProgress

logger = logging.getLogger(__name__)


class WakeSignal:
    """Wakes the fact-extraction worker from any thread when a job is queued."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def listen(self) -> None:
        """Called by the worker on the event loop it runs on, before it first waits."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the worker (a no-op until it listens); safe from any thread."""
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        """Wait for a notification or ``timeout`` seconds, whichever comes first."""
        assert self._event is not None, "listen() first"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
        self._event.clear()


@dataclass(frozen=True)
class MemoryStatus:
    """How much is remembered, with which model, and the background work still to do."""

    items: int
    embedding_model: str
    embedder_ready: bool
    reembedding: ReembedProgress
    index: IndexProgress
    fact_jobs: dict[str, int]  # fact-extraction jobs by status; absent statuses have none


@dataclass
class MemoryService:
    """Everything memory-related a route or a chat turn needs."""

    store: MemoryStore
    embedder: Embedder
    jobs: FactJobQueue
    context_tokens: int
    context_items: int
    min_similarity: float
    personal_min_similarity: float
    general_min_similarity: float
    store_messages: bool
    extract_facts: bool
    job_queued: WakeSignal = field(default_factory=WakeSignal)
    # Housekeeping's mechanics over the SQLite store (None for a store that has none).
    housekeeping: StoreHousekeeping | None = None

    def status(self) -> MemoryStatus:
        """Counts and progress, read now (blocking: call it from a worker thread)."""
        progress = self.store.reembed_progress()
        return MemoryStatus(
            items=self.store.count(),
            embedding_model=self.embedder.name,
            embedder_ready=embedder_ready(self.embedder),
            reembedding=progress,
            index=self.store.index_progress(),
            fact_jobs=self.jobs.counts(),
        )

    def close(self) -> None:
        """Stop background work and close the databases."""
        self.jobs.close()
        self.store.close()


def open_memory(settings: Settings, embedder: Embedder | None = None) -> MemoryService:
    """Load the embedder (offline), open the store in the data directory, and resume any
    re-embedding left after the embedding model changed. The packaged model loads in the
    background (its name and size are known), so the hub serves meanwhile; another model folder
    loads here, so a wrong one stops the start with its reason."""
    threads = settings.memory_embedding_threads
    if embedder is None and settings.memory_embedding_model is None:
        embedder = BackgroundEmbedder(
            lambda: SentenceTransformerEmbedder(threads=threads),
            PACKAGED_MODEL_NAME,
            PACKAGED_MODEL_DIMENSION,
            start=False,  # after the store has opened (see BackgroundEmbedder)
        )
    embedder = embedder or SentenceTransformerEmbedder(
        settings.memory_embedding_model, threads=threads
    )
    path = settings.data_dir / MEMORY_DB_NAME
    store = SqliteMemoryStore(path, embedder)
    if isinstance(embedder, BackgroundEmbedder):
        embedder.start()
    store.start_reembedding()
    return MemoryService(
        store=store,
        embedder=embedder,
        jobs=FactJobQueue(str(path)),
        context_tokens=settings.memory_context_tokens,
        context_items=settings.memory_context_items,
        min_similarity=settings.memory_min_similarity,
        personal_min_similarity=settings.memory_personal_min_similarity,
        general_min_similarity=settings.memory_general_min_similarity,
        store_messages=settings.memory_store_messages,
        extract_facts=settings.memory_extract_facts,
        housekeeping=store.housekeeping,
    )
