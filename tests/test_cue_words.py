"""Cue words: everyday words a question may use for a fact, chosen by meaning, and the training
questions they make. Exact vectors in the unit tests; the packaged embedding model in the last."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from adapters.cue_words import CUE_FORMS, cue_questions, cue_vocabulary, pick_cues
from adapters.dataset import build_dataset
from adapters.examples import PersonInputs, SourceText
from adapters.fact_examples import item_examples
from hub.api.app import create_app
from hub.assembly import Hub
from hub.personalization.cues import with_cue_words
from hub.settings import Settings
from memory.embedder import Embedder, Vectors
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel


def _unit(*rows: Sequence[float]) -> Vectors:
    matrix = np.array(rows, dtype=np.float32)
    normalized: Vectors = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalized


FACTS = ["My resting heart rate is 58.", "I drink oat milk."]
FACT_VECTORS = _unit([1, 0, 0], [0, 1, 0])
WORDS = ["pulse", "heart", "cereal", "between", "heartbeat"]
WORD_VECTORS = _unit([0.9, 0.1, 0.1], [1, 0, 0], [0.1, 0.9, 0], [0.5, 0.5, 0], [0.8, 0.2, 0.3])


def test_a_fact_is_cued_by_the_words_closest_to_it_in_meaning_leaving_out_its_own() -> None:
    cues = pick_cues(FACTS, FACT_VECTORS, [0, 1], WORDS, WORD_VECTORS, count=2)
    # "heart" is the fact's own word; "between" is as close to the other fact as to this one.
    assert cues == {0: ("pulse", "heartbeat"), 1: ("cereal",)}


def test_a_word_nearly_as_close_to_another_memory_cues_neither() -> None:
    cues = pick_cues(FACTS, FACT_VECTORS, [0, 1], WORDS, WORD_VECTORS, count=5, margin=0.9)
    assert cues == {0: (), 1: ()}


def test_forms_of_one_word_count_once_and_no_count_means_no_cues() -> None:
    words = ["pulses", "pulse", "pulsing"]
    vectors = _unit([1, 0.1, 0], [1, 0.2, 0], [1, 0.3, 0])
    assert pick_cues(FACTS, FACT_VECTORS, [0], words, vectors, count=3) == {0: ("pulses",)}
    assert pick_cues(FACTS, FACT_VECTORS, [0], words, vectors, count=0) == {}


def test_each_cue_becomes_one_question_answered_by_the_fact_restated() -> None:
    fact = SourceText("f1", "fact", "My resting heart rate is usually 58.", cues=("pulse", "bpm"))
    made = item_examples(fact, 6, hold_out=True)
    asked = [example.prompt for example in made.train]
    assert cue_questions(("pulse", "bpm")) == [
        CUE_FORMS[0].format(cue="pulse"),
        CUE_FORMS[1].format(cue="bpm"),
    ]
    assert set(cue_questions(("pulse", "bpm"))) <= set(asked)
    # The first two stay templated: they are also the ones asked with the memory in context.
    assert not set(asked[:2]) & set(cue_questions(("pulse", "bpm")))
    assert {example.answer for example in made.train} == {"Your resting heart rate is usually 58."}
    assert made.held_out is not None and made.held_out.prompt not in asked


def test_the_vocabulary_is_everyday_words_without_function_words() -> None:
    words = cue_vocabulary()
    assert len(words) > 5000 and len(set(words)) == len(words)
    assert {"pulse", "dairy", "breakfast"} <= set(words)
    assert not {"the", "and", "because", "which"} & set(words)
    assert all(word.isalpha() and word.islower() for word in words)


class _TableEmbedder:
    """Vectors from a table (unknown texts point nowhere in particular)."""

    name = "table"
    dimension = 3

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        self.table = table

    def embed(self, texts: Sequence[str]) -> Vectors:
        return _unit(*[self.table.get(text, (0.01, 0.01, 1.0)) for text in texts])


def test_only_facts_about_the_person_get_cues_and_other_memories_keep_theirs_away() -> None:
    texts = [
        SourceText("heart", "fact", FACTS[0]),
        SourceText("milk", "fact", FACTS[1]),
        SourceText("ana", "fact", "Ana's dog is called Rex."),
        SourceText("note", "note", "Pulse oximeters were on sale."),
    ]
    embedder = _TableEmbedder(
        {
            FACTS[0]: (1, 0, 0),
            FACTS[1]: (0, 1, 0),
            "Ana's dog is called Rex.": (0, 0, 1),
            "Pulse oximeters were on sale.": (0.7, 0, 0.7),
            "heartbeat": (1, 0.05, 0),
            "pulse": (0.75, 0, 0.66),
            "breakfast": (0.1, 1, 0),
            "dog": (0, 0.1, 1),
        }
    )
    cued = with_cue_words(embedder, PersonInputs([], texts), per_fact=2)
    by_id = {text.id: text.cues for text in cued.texts}
    assert "heartbeat" in by_id["heart"] and "pulse" not in by_id["heart"]  # the note's
    assert "breakfast" in by_id["milk"]
    assert by_id["ana"] == () and by_id["note"] == ()
    assert with_cue_words(embedder, PersonInputs([], texts), per_fact=0).texts == texts


def test_the_packaged_embedding_model_cues_facts_with_words_a_person_would_ask_by(
    embedder: Embedder,
) -> None:
    texts = [
        SourceText("a", "fact", "My resting heart rate is usually around 58 beats per minute."),
        SourceText("b", "fact", "I'm lactose intolerant, so I drink oat milk."),
        SourceText("c", "fact", "Our cat is a ginger tom named Marmaduke."),
    ]
    cued = with_cue_words(embedder, PersonInputs([], texts), 6)
    by_id = {text.id: set(text.cues) for text in cued.texts}
    assert "pulse" in by_id["a"]
    assert "dairy" in by_id["b"]
    assert "pet" in by_id["c"]


def test_a_nightly_run_learns_the_cues_of_facts_stored_through_the_api(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        voice_enabled=False,
        personalize_enabled=False,
        personalize_model_questions=0,
        mdns_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=embedder)
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        for text in (
            "My resting heart rate is usually around 58 beats per minute.",
            "I'm lactose intolerant, so I drink oat milk.",
        ):
            assert client.post("/v1/memory", json={"text": text, "kind": "fact"}).is_success
        hub: Hub = app.state.hub
        inputs = client.portal.call(hub.personalization.gather_inputs, True)  # type: ignore[union-attr]
    cues = {text.text.split()[1]: text.cues for text in inputs.texts}
    assert "pulse" in cues["resting"] and "dairy" in cues["lactose"]
    dataset = build_dataset(inputs)
    asked = {example.prompt for example in dataset.train}
    assert {question for question in cue_questions(cues["resting"])} <= asked


class _CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dimension = inner.dimension
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_the_vocabulary_is_embedded_once_and_read_back_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = HashingEmbedder()  # what is kept, not what it means, is under test
    texts = [
        SourceText("a", "fact", "My resting heart rate is usually around 58 beats per minute.")
    ]
    words = len(cue_vocabulary())
    first = _CountingEmbedder(embedder)
    cued = with_cue_words(first, PersonInputs([], texts), 6, tmp_path)
    assert first.texts == words + 1
    [kept] = list(tmp_path.glob("cue-words-*.npy"))
    again = _CountingEmbedder(embedder)
    assert with_cue_words(again, PersonInputs([], texts), 6, tmp_path) == cued
    assert again.texts == 1  # the fact alone
    # Another embedding model never reads this one's vectors, and its own replace them.
    other = _CountingEmbedder(embedder, name="another-model")
    with_cue_words(other, PersonInputs([], texts), 6, tmp_path)
    assert other.texts == words + 1
    assert [p.name for p in tmp_path.glob("cue-words-*.npy")] != [kept.name]
    assert len(list(tmp_path.glob("cue-words-*.npy"))) == 1
    with_cue_words(_CountingEmbedder(embedder), PersonInputs([], texts), 6, tmp_path)
    # A damaged file is embedded again, with a warning, and replaced.
    kept.write_bytes(b"not an array")
    damaged = _CountingEmbedder(embedder)
    assert with_cue_words(damaged, PersonInputs([], texts), 6, tmp_path) == cued
    assert damaged.texts == words + 1 and "unreadable" in caplog.text
    assert np.load(kept).shape == (words, embedder.dimension)
