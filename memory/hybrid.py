"""Hybrid ranking: vector neighbours and BM25 full-text matches fused by reciprocal rank."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# The usual constant, 60, was chosen for fusing many long rankings. With two rankings and a
# few results wanted, it lets any note that is in both (one everyday word shared: "again",
# "time") outrank the note closest in meaning, which shares no word. With 1, the first of each
# ranking counts most. On the personal evaluation's development persons (bench_personal.py),
# the fact in the first three: 226 -> 307 of 414 questions in the person's own words, 124 ->
# 134 of 138 that share its words, 132 -> 133 of 138 searches for the answer's own word.
RRF_K = 1
WORD = re.compile(r"\w+")
MAX_QUERY_WORDS = 32
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def query_words(text: str) -> list[str]:
    """The query's distinct words that are worth searching for, each as a quoted FTS5 term."""
    words: list[str] = []
    for word in WORD.findall(text.lower()):
        if word in STOPWORDS or word in words:
            continue
        words.append(word)
        if len(words) == MAX_QUERY_WORDS:
            break
    return ['"' + word.replace('"', '""') + '"' for word in words]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: the query's words, quoted, joined by OR (None if none)."""
    return " OR ".join(query_words(text)) or None


@dataclass(frozen=True)
class RankedChunk:
    """One item's best chunk in one ranking."""

    item_id: str
    chunk_id: int
    similarity: float | None = None


@dataclass(frozen=True)
class FusedItem:
    """An item's fused score and where it ranked in each list (1-based)."""

    item_id: str
    score: float
    chunk_id: int
    similarity: float | None
    vector_rank: int | None
    text_rank: int | None


def best_per_item(ranked: Sequence[RankedChunk]) -> list[RankedChunk]:
    """Keep each item's first (best) chunk, in order."""
    seen: set[str] = set()
    kept = []
    for entry in ranked:
        if entry.item_id not in seen:
            seen.add(entry.item_id)
            kept.append(entry)
    return kept


def fuse(vector: Sequence[RankedChunk], text: Sequence[RankedChunk]) -> list[FusedItem]:
    """Reciprocal rank fusion of two per-item rankings, best first."""
    scores: dict[str, float] = {}
    vector_rank: dict[str, int] = {}
    text_rank: dict[str, int] = {}
    chunk: dict[str, int] = {}
    similarity: dict[str, float | None] = {}
    for rank, entry in enumerate(best_per_item(vector), start=1):
        scores[entry.item_id] = scores.get(entry.item_id, 0.0) + 1.0 / (RRF_K + rank)
        vector_rank[entry.item_id] = rank
        chunk[entry.item_id] = entry.chunk_id
        similarity[entry.item_id] = entry.similarity
    for rank, entry in enumerate(best_per_item(text), start=1):
        scores[entry.item_id] = scores.get(entry.item_id, 0.0) + 1.0 / (RRF_K + rank)
        text_rank[entry.item_id] = rank
        chunk[entry.item_id] = entry.chunk_id  # it holds the query's words: the best snippet
        similarity.setdefault(entry.item_id, None)
    # Equal fused scores (one item first by meaning, the other by words) go to the closer meaning.
    order = sorted(
        scores, key=lambda item_id: (-scores[item_id], -(similarity[item_id] or -1.0), item_id)
    )
    return [
        FusedItem(
            item_id,
            scores[item_id],
            chunk[item_id],
            similarity[item_id],
            vector_rank.get(item_id),
            text_rank.get(item_id),
        )
        for item_id in order
    ]


def snippet(text: str, query: str, width: int) -> str:
    """About ``width`` characters of ``text`` around the first of the query's words in it."""
    if len(text) <= width:
        return text
    lowered = text.lower()
    found = [
        lowered.find(word[:5])
        for word in WORD.findall(query.lower())
        if word not in STOPWORDS and len(word) > 2
    ]
    found = [position for position in found if position >= 0]
    if not found:
        return text[:width]
    start = max(0, min(found) - width // 3)
    start = text.rfind(" ", 0, start) + 1 if start else 0
    return text[start : start + width]
