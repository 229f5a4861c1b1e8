"""A deterministic embedder for exact unit tests: hashed bag of words, no model, no randomness."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from memory.embedder import Vectors

TOKEN = re.compile(r"\w+")


class HashingEmbedder:
    """Each lower-cased word adds +1 to one hashed dimension; texts sharing words are close."""

    def __init__(self, dimension: int = 64, name: str = "hashing-test-embedder") -> None:
        self.dimension = dimension
        self.name = name
        self.calls = 0

    def _slot(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "little") % self.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Hashed word counts, normalised; an empty text maps to a fixed unit vector."""
        self.calls += 1
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = TOKEN.findall(text.lower())
            for word in words:
                matrix[row, self._slot(word)] += 1.0
            if not words:
                matrix[row, 0] = 1.0
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix
