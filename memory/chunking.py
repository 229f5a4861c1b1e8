"""Split long texts into overlapping word windows the embedder can take whole."""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"\S+")

# all-MiniLM-L6-v2 reads 256 word pieces; 160 words stay under that for ordinary prose.
MAX_WORDS = 160
OVERLAP_WORDS = 32


@dataclass(frozen=True)
class Chunk:
    """A slice of an item's text: ``text == whole[start:end]``."""

    seq: int
    start: int
    end: int
    text: str


def chunk_text(text: str, max_words: int = MAX_WORDS, overlap: int = OVERLAP_WORDS) -> list[Chunk]:
    """One chunk for a short text; overlapping windows of ``max_words`` words for a long one."""
    spans = [match.span() for match in WORD.finditer(text)]
    if len(spans) <= max_words:
        return [Chunk(0, 0, len(text), text)]
    chunks: list[Chunk] = []
    step = max(1, max_words - overlap)
    first = 0
    while True:
        last = min(first + max_words, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last == len(spans) - 1:
            return chunks
        first += step
