"""Cue words: the everyday words a person may use when asking for a fact without any of its own
words ("pulse" for a resting heart rate, "cereal" for oat milk), and the questions they make.

A fact's cues are the words of a fixed everyday vocabulary (adapters/data/cue_words.txt) whose
embedding is closest to the fact's, leaving out the fact's own words and any word closer to
another of the person's memories than to this one, so that a cue points at one fact only. The
adapter learns each cue as one more way to be asked for the fact: on the development persons a
quarter of the held-out questions use a word the fact's first dozen cues hold, and the templated
questions none of them (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

CUE_FORMS = (
    "What did I tell you about {cue}?",
    "What do you remember about {cue}?",
    "Anything on {cue}?",
    "I mentioned {cue} once. What was it?",
    "Remind me what I said about {cue}.",
    "What do you know about {cue}?",
)
_WORD = re.compile(r"[a-z]+")


def _word_list(name: str) -> list[str]:
    """The words of a shipped list (adapters/data), one a line, "#" lines left out."""
    text = files("adapters").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def cue_vocabulary() -> list[str]:
    """The everyday words cues are chosen from, most frequent first."""
    return _word_list("cue_words.txt")


def everyday_words() -> frozenset[str]:
    """Every everyday word, function words too: a word outside them is an uncommon one."""
    return frozenset(cue_vocabulary() + _word_list("function_words.txt"))


def _stem(word: str) -> str:
    """A crude stem, so "cats" and "cycling" count as the fact's own "cat" and "cycle"."""
    for ending in ("ing", "ies", "es", "ed", "s", "e", "y"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def pick_cues(
    texts: Sequence[str],
    text_vectors: Vectors,
    targets: Sequence[int],
    words: Sequence[str],
    word_vectors: Vectors,
    count: int,
    margin: float = 0.02,
) -> dict[int, tuple[str, ...]]:
    """Up to ``count`` cues for each text index in ``targets``: the vocabulary words closest in
    meaning to it, none of its own words, each closer to it than to any other of ``texts`` by
    at least ``margin``. Vectors are unit length (a dot product is the cosine)."""
    if count <= 0 or not targets or not words:
        return {}
    similarity = word_vectors @ text_vectors.T  # words x texts
    # Each word's closest text and its runner-up: the closest other text to a target is the
    # first unless the first is the target itself.
    top_two = np.argsort(-similarity, axis=1)[:, :2]
    rows = np.arange(similarity.shape[0])
    best = similarity[rows, top_two[:, 0]]
    second = similarity[rows, top_two[:, 1]] if similarity.shape[1] > 1 else np.full_like(best, -1)
    out: dict[int, tuple[str, ...]] = {}
    for target in targets:
        mine = similarity[:, target]
        others = np.where(top_two[:, 0] == target, second, best)
        own = {_stem(w) for w in _WORD.findall(texts[target].lower())}
        cues: list[str] = []
        for index in np.argsort(-mine):
            word = words[int(index)]
            if mine[index] - others[index] < margin or _stem(word) in own:
                continue
            if _stem(word) in {_stem(c) for c in cues}:
                continue
            cues.append(word)
            if len(cues) == count:
                break
        out[target] = tuple(cues)
    return out


def cue_questions(cues: Sequence[str]) -> list[str]:
    """One question for each cue, the forms taken in turn."""
    return [CUE_FORMS[index % len(CUE_FORMS)].format(cue=cue) for index, cue in enumerate(cues)]
