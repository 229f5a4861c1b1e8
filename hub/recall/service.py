"""MemoryService: the memory store, its fact-extraction queue and the hub's memory settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.settings import Settings
from memory.embedder import Embedder, SentenceTransformerEmbedder
from memory.jobs import FactJobQueue
from memory.protocol import MemoryStore
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore

logger = logging.getLogger(__name__)


@dataclass
class MemoryService:
    """Everything memory-related a route or a chat turn needs."""

    store: MemoryStore
    embedder: Embedder
    jobs: FactJobQueue
    context_tokens: int
    min_similarity: float
    store_messages: bool
    extract_facts: bool
    notify_job: Callable[[], None] = field(default=lambda: None)  # wakes the extraction worker

    def close(self) -> None:
        """Stop background work and close the databases."""
        self.jobs.close()
        self.store.close()


def open_memory(settings: Settings, embedder: Embedder | None = None) -> MemoryService:
    """Load the embedder (offline), open the store in the data directory, and resume any
    re-embedding left after the embedding model changed."""
    embedder = embedder or SentenceTransformerEmbedder(
        settings.memory_embedding_model, threads=settings.memory_embedding_threads
    )
    path = settings.data_dir / MEMORY_DB_NAME
    store = SqliteMemoryStore(path, embedder)
    if store.start_reembedding():
        logger.info("re-embedding memories with %s in the background", embedder.name)
    return MemoryService(
        store=store,
        embedder=embedder,
        jobs=FactJobQueue(str(path)),
        context_tokens=settings.memory_context_tokens,
        min_similarity=settings.memory_min_similarity,
        store_messages=settings.memory_store_messages,
        extract_facts=settings.memory_extract_facts,
    )
