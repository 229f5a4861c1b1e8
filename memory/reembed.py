"""Re-embed chunks that lack a vector from the current model, in batches, with progress."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from memory.embedder import Embedder, Vectors
from memory.protocol import Progress
from memory.types import ReembedProgress

logger = logging.getLogger(__name__)

BATCH = 128


def run(
    missing: Callable[[int], list[tuple[int, str]]],
    store_vectors: Callable[[list[int], Vectors], None],
    embedder: Embedder,
    stop: threading.Event,
    status: Callable[[], ReembedProgress],
    progress: Progress | None = None,
) -> None:
    """Embed batch after batch until none is missing or ``stop`` is set."""
    while not stop.is_set():
        batch = missing(BATCH)
        if not batch:
            break
        chunk_ids = [chunk_id for chunk_id, _ in batch]
        vectors = embedder.embed([text for _, text in batch])
        store_vectors(chunk_ids, vectors)
        now = status()
        logger.info("re-embedding with %s: %d of %d chunks", now.model, now.done, now.total)
        if progress is not None:
            progress(now.done, now.total)
