"""Cue words for the person's own facts, chosen with the memory's embedding model."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from adapters.cue_words import cue_vocabulary, pick_cues
from adapters.examples import PersonInputs
from adapters.fact_examples import about_the_person
from memory.embedder import Embedder, Vectors

logger = logging.getLogger(__name__)

TEXT_KINDS = ("fact", "note", "transcript")


def _cache_file(cache_dir: Path, embedder: Embedder, words: list[str]) -> Path:
    key = hashlib.sha256(
        "\n".join([embedder.name, str(embedder.dimension), *words]).encode("utf-8")
    ).hexdigest()[:20]
    return cache_dir / f"cue-words-{key}.npy"


def vocabulary_vectors(embedder: Embedder, words: list[str], cache_dir: Path | None) -> Vectors:
    """The vocabulary's vectors: read from ``cache_dir`` when an earlier run of the same
    embedding model and vocabulary left them there, else embedded (about 7 seconds on one
    thread) and left there for the next run, in place of any other model's (15 MB each)."""
    path = None if cache_dir is None else _cache_file(cache_dir, embedder, words)
    if path is not None and path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if (
                cached.shape == (len(words), embedder.dimension)
                and cached.dtype == np.float32
                and bool(np.isfinite(cached).all())
            ):
                return np.asarray(cached, dtype=np.float32)
        except (OSError, ValueError):
            pass
        logger.warning("cue word vectors in %s are unreadable; embedding them again", path)
    vectors = np.asarray(embedder.embed(words), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial.npy")
            np.save(partial, vectors, allow_pickle=False)
            os.replace(partial, path)
            for older in path.parent.glob("cue-words-*.npy"):  # another model's or vocabulary's
                if older != path:
                    older.unlink(missing_ok=True)
        except OSError:
            logger.warning("could not keep the cue word vectors in %s", path, exc_info=True)
    return vectors


def with_cue_words(
    embedder: Embedder, inputs: PersonInputs, per_fact: int, cache_dir: Path | None = None
) -> PersonInputs:
    """``inputs`` with up to ``per_fact`` cue words on each fact about the person, each cue
    closer in meaning to its fact than to any other fact, note or transcript; blocking (it
    embeds the memories, and the vocabulary unless ``cache_dir`` holds its vectors)."""
    texts = [t for t in inputs.texts if t.kind in TEXT_KINDS and t.text.strip()]
    targets = [i for i, t in enumerate(texts) if t.kind == "fact" and about_the_person(t.text)]
    if per_fact <= 0 or not targets:
        return inputs
    words = cue_vocabulary()
    word_vectors = vocabulary_vectors(embedder, words, cache_dir)
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
