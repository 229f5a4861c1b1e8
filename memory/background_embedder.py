"""BackgroundEmbedder: an embedder whose model loads in a thread while the hub starts serving.

Importing sentence-transformers (with torch and transformers) takes most of a hub's start: 7.7
of its 12.9 s to /health on this 2-core box (``python -X importtime -m hub serve``), against
0.8 s for the chat model. The store needs only the model's name and dimension to open, so the
loading happens beside everything else, and the first call to ``embed`` waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from memory.embedder import Embedder, EmbedderLoadError, Vectors


class BackgroundEmbedder:
    """Starts ``load`` in a daemon thread; ``name`` and ``dimension`` are known beforehand.

    With ``start=False`` the thread starts on ``start()`` (or the first use): the hub opens the
    memory store first, because the import holds the interpreter for long stretches, and the
    store's opening, 20 ms alone at 100k memories, took 0.6-0.9 s beside it (a traced start)."""

    def __init__(
        self, load: Callable[[], Embedder], name: str, dimension: int, start: bool = True
    ) -> None:
        self.name = name
        self.dimension = dimension
        self._load = load
        self._loaded = threading.Event()
        self._model: Embedder | None = None
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        if start:
            self.start()

    def start(self) -> None:
        """Begin loading the model in its thread (once; later calls do nothing)."""
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="embedder-load", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            model = self._load()
            if (model.name, model.dimension) != (self.name, self.dimension):
                raise EmbedderLoadError(
                    f"the embedding model loaded as {model.name} ({model.dimension} dimensions), "
                    f"not {self.name} ({self.dimension}); reinstall the packaged model"
                )
            self._model = model
        except Exception as exc:  # kept, and raised by every embed, which names the cause
            self._error = exc
        finally:
            self._loaded.set()

    @property
    def ready(self) -> bool:
        """True once the model has loaded (or failed to)."""
        return self._loaded.is_set()

    def model(self) -> Embedder:
        """The loaded model, waiting for it; EmbedderLoadError when it could not load."""
        self.start()
        self._loaded.wait()
        if self._model is None:
            raise EmbedderLoadError(f"the embedding model could not load: {self._error}")
        return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text (waits for the model on the first calls)."""
        return self.model().embed(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read."""
        count: Callable[[str], int] | None = getattr(self.model(), "count_tokens", None)
        return count(text) if count is not None else len(text.split())


def embedder_ready(embedder: Embedder) -> bool:
    """False only while a BackgroundEmbedder is still loading its model."""
    return not isinstance(embedder, BackgroundEmbedder) or embedder.ready
