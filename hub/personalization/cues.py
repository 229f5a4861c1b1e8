"""Cue words for the person's own facts, chosen with the memory's embedding model."""

from __future__ import annotations

import dataclasses
import logging

from adapters.cue_words import cue_vocabulary, pick_cues
from adapters.examples import PersonInputs
from adapters.fact_examples import about_the_person
from memory.embedder import Embedder

logger = logging.getLogger(__name__)

TEXT_KINDS = ("fact", "note", "transcript")


def with_cue_words(embedder: Embedder, inputs: PersonInputs, per_fact: int) -> PersonInputs:
    """``inputs`` with up to ``per_fact`` cue words on each fact about the person, each cue
    closer in meaning to its fact than to any other fact, note or transcript; blocking (it
    embeds the vocabulary, about 7 seconds on one thread, and the memories)."""
    texts = [t for t in inputs.texts if t.kind in TEXT_KINDS and t.text.strip()]
    targets = [i for i, t in enumerate(texts) if t.kind == "fact" and about_the_person(t.text)]
    if per_fact <= 0 or not targets:
        return inputs
    words = cue_vocabulary()
    word_vectors = embedder.embed(words)
    text_vectors = embedder.embed([t.text for t in texts])
    cues = pick_cues([t.text for t in texts], text_vectors, targets, words, word_vectors, per_fact)
    with_cues = {texts[i].id: found for i, found in cues.items() if found}
    logger.info("cue words chosen for %d facts", len(with_cues))
    return PersonInputs(
        inputs.conversations,
        [
            dataclasses.replace(t, cues=with_cues[t.id]) if t.id in with_cues else t
            for t in inputs.texts
        ],
    )
