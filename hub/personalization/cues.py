"""Cue words for the person's own facts, chosen with the memory's embedding model."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from adapters.cue_words import cue_vocabulary, everyday_words, own_words, pick_cues
from adapters.examples import PersonInputs
from adapters.fact_examples import about_the_person
from memory.embedder import Embedder

logger = logging.getLogger(__name__)

TEXT_KINDS = ("fact", "note", "transcript")
# Neighbours of each of a fact's own words that may also cue it ("employment", "hire" for a
# job): on the development persons they reach more held-out questions than more cues by the
# fact's whole meaning (docs/benchmarks.md).
PER_OWN_WORD = 2


def with_cue_words(
    embedder: Embedder, inputs: PersonInputs, per_fact: int, per_own_word: int = PER_OWN_WORD
) -> PersonInputs:
    """``inputs`` with up to ``per_fact`` cue words on each fact about the person by its
    meaning, and up to ``per_own_word`` more by each of its own words (as many again at most),
    each cue closer in meaning to its fact than to any other fact, note or transcript; blocking
    (it embeds the vocabulary, about 7 seconds on one thread, and the memories)."""
    texts = [t for t in inputs.texts if t.kind in TEXT_KINDS and t.text.strip()]
    targets = [i for i, t in enumerate(texts) if t.kind == "fact" and about_the_person(t.text)]
    if per_fact <= 0 or not targets:
        return inputs
    words = cue_vocabulary()
    word_vectors = embedder.embed(words)
    text_vectors = embedder.embed([t.text for t in texts])
    everyday = everyday_words()
    mine = {i: own_words(texts[i].text, everyday) for i in targets}
    distinct = sorted({word for found in mine.values() for word in found})
    vectors = dict(zip(distinct, embedder.embed(distinct), strict=True)) if distinct else {}
    own_vectors = {i: np.stack([vectors[w] for w in found]) for i, found in mine.items() if found}
    cues = pick_cues(
        [t.text for t in texts],
        text_vectors,
        targets,
        words,
        word_vectors,
        per_fact,
        own_vectors=own_vectors,
        per_own_word=per_own_word,
    )
    with_cues = {texts[i].id: found for i, found in cues.items() if found}
    logger.info("cue words chosen for %d facts", len(with_cues))
    return PersonInputs(
        inputs.conversations,
        [
            dataclasses.replace(t, cues=with_cues[t.id]) if t.id in with_cues else t
            for t in inputs.texts
        ],
    )
