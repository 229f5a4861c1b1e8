"""RecentQueryVectors: the last few search questions' vectors, so one chat turn embeds once.

A chat turn searches for the same words more than once (the hybrid search, the closest in
meaning beside it, and whether the message is already remembered); each embedding of a short
question costs about 10 ms on one thread, beside a model that is generating on the others.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from memory.embedder import Embedder, Vectors

DEFAULT_CAPACITY = 16


class RecentQueryVectors:
    """The embedder's vectors for the most recently searched texts (least recent dropped)."""

    def __init__(self, embedder: Embedder, capacity: int = DEFAULT_CAPACITY) -> None:
        self._embedder = embedder
        self._capacity = capacity
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def vector(self, text: str) -> Vectors:
        """The vector for ``text``: remembered, or embedded now and remembered."""
        with self._lock:
            known = self._vectors.get(text)
            if known is not None:
                self._vectors.move_to_end(text)
                return known
        vector: Vectors = self._embedder.embed([text])[0]
        vector.setflags(write=False)  # shared between searches: nobody may change it
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        return vector
