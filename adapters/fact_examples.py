"""Training examples from facts and notes: each asked many ways and answered by restating it
in the second person, one way kept aside per fact for the gate, the fact also asked with it
among other memories in the prompt, and general questions mixed in against drift."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files

from adapters.config import DatasetRecipe
from adapters.cue_words import cue_questions
from adapters.examples import SourceText, TrainingExample
from adapters.fact_questions import Question, questions_for

# How the hub shows memories to the model: (memories, question) -> (system, user message).
ContextRenderer = Callable[[Sequence[SourceText], str], tuple[str, str]]

_FIRST_TO_SECOND = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "am": "are",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "myself": "yourself",
    "we": "you",
    "us": "you",
    "our": "your",
    "ours": "yours",
    "ourselves": "yourselves",
}
_WORD_OR_OTHER = re.compile(r"[A-Za-z']+|[^A-Za-z']+")
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|my|me|mine|we|our|us)\b", re.IGNORECASE)
_FALLBACK_PROMPTS = (
    "What did I tell you about {topic}?",
    "What do you remember about {topic}?",
    "What did I note about {topic}?",
)
_DIGIT = re.compile(r"\d")


def second_person(text: str) -> str:
    """Turn the person's own words ("my sister", "I was") into the assistant's ("your sister",
    "you were")."""
    out: list[str] = []
    previous = ""
    for piece in _WORD_OR_OTHER.findall(text):
        low = piece.lower()
        swapped = _FIRST_TO_SECOND.get(low)
        if low == "was" and previous == "i":
            swapped = "were"
        if piece.strip():
            previous = low
        if swapped is None:
            out.append(piece)
            continue
        # "I" is upper case anywhere; only a sentence's first word keeps its capital.
        starts_sentence = not "".join(out).strip() or "".join(out).rstrip()[-1] in ".!?"
        out.append(swapped.capitalize() if starts_sentence else swapped)
    return "".join(out)


def restated(text: str) -> str:
    """The memory as the assistant says it back: second person, one sentence end."""
    answer = second_person(" ".join(text.split()).rstrip())
    return answer if answer.endswith((".", "!", "?")) else answer + "."


def about_the_person(text: str) -> bool:
    """Whether a memory is about the person ("I", "my", "we") rather than someone else."""
    return bool(_FIRST_PERSON.search(text))


def short_expect(question: Question) -> str:
    """The few words a right answer must contain: a number alone, else the chunk's words."""
    words = question.expect.split()
    numbers = [w for w in words if _DIGIT.search(w)]
    if numbers and not any(w[:1].isupper() for w in words if not _DIGIT.search(w)):
        return " ".join(numbers[:1] if len(numbers) == 1 else numbers)
    return " ".join(words[:6])


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def _too_close(a: str, b: str) -> bool:
    """Whether two questions share so many words that one would give the other away."""
    left, right = _words(a), _words(b)
    return len(left & right) / max(1, len(left | right)) >= 0.75


def choose_held_out(item: SourceText, pool: list[Question]) -> Question | None:
    """The question kept aside for the gate: an ask-, wh- or synonym question with a known
    answer, picked by a hash of the fact, so every run keeps the same one aside. A synonym
    question comes last: it is the one training most needs, the only place the adapter meets
    the person's other words for the fact ("sibling" for a sister; docs/benchmarks.md)."""

    def telling(question: Question) -> bool:  # a name or a number, not "work" or "day"
        return any(w[:1].isupper() or _DIGIT.search(w) for w in question.expect.split())

    def still_taught(question: Question) -> bool:  # training keeps a way to ask for its part
        return any(
            q.expect == question.expect and not _too_close(q.text, question.text)
            for q in pool
            if q is not question
        )

    for wanted in (True, False):
        for family in ("ask", "wh", "synonym"):
            candidates = [
                q for q in pool if q.family == family and q.expect and telling(q) == wanted
            ]
            taught = [q for q in candidates if still_taught(q)] or candidates
            if taught:
                return min(taught, key=lambda q: _rank(item.id + q.text))
    return None


def fallback_questions(item: SourceText, count: int) -> list[Question]:
    """Questions for a memory the rules cannot read, by its first words (its own, so two such
    memories never share a question)."""
    words = item.text.split()
    topic = " ".join(words[:6]).rstrip(".,;:") + ("…" if len(words) > 6 else "")
    if item.kind == "transcript":
        when = item.happened_at[:10] or "recently"
        forms = [f"What did I say on {when} about {topic}?", *_FALLBACK_PROMPTS]
    else:
        forms = list(_FALLBACK_PROMPTS)
    return [Question(form.format(topic=topic), "fallback", "") for form in forms[: max(1, count)]]


def pick_forms(pool: list[Question], count: int) -> list[Question]:
    """``count`` questions taken round-robin across the families, each family's next one the
    first to ask for the part of the fact asked least so far, so a few already ask for every
    part."""
    queues = {
        family: [q for q in pool if q.family == family]
        for family in dict.fromkeys(q.family for q in pool)
    }
    times_asked: dict[str, int] = {}
    picked: list[Question] = []
    while len(picked) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < count:
                chosen = min(queue, key=lambda q: times_asked.get(q.expect, 0))
                queue.remove(chosen)
                times_asked[chosen.expect] = times_asked.get(chosen.expect, 0) + 1
                picked.append(chosen)
    return picked


def with_cues(templated: list[Question], cued: list[Question]) -> list[Question]:
    """The templated questions with the cue questions taken in turn after the first two (which
    are also asked with the memory in context), so a run short of time still learns some cues."""
    head, rest = templated[:2], templated[2:]
    mixed: list[Question] = []
    for index in range(max(len(rest), len(cued))):
        mixed += rest[index : index + 1] + cued[index : index + 1]
    return head + mixed


@dataclass
class ItemExamples:
    """One memory's training forms (most important first) and its held-out question."""

    item: SourceText
    train: list[TrainingExample]
    held_out: TrainingExample | None = None


def item_examples(item: SourceText, count: int, hold_out: bool) -> ItemExamples:
    """A memory asked ``count`` ways (model-written questions first), answered by restating it;
    with ``hold_out``, one more way kept aside and every way too close to it left out."""
    answer = restated(item.text)
    pool = questions_for(item.text)
    held: Question | None = choose_held_out(item, pool) if hold_out else None
    if held is not None:
        pool = [q for q in pool if q is not held and not _too_close(q.text, held.text)]
    templated = pick_forms(pool, count)
    cued = [
        Question(text, "cue", "")
        for text in cue_questions(item.cues)
        if held is None or not _too_close(text, held.text)
    ]
    chosen = [Question(text, "model", "") for text in item.questions] + with_cues(templated, cued)
    if not chosen:
        chosen = fallback_questions(item, count)
    source = item.kind if item.kind in ("fact", "note", "transcript") else "note"
    train = [TrainingExample(q.text, answer, source, item.id) for q in chosen]
    held_example = None
    if held is not None:
        held_example = TrainingExample(
            held.text, answer, source, item.id, expect=short_expect(held)
        )
    return ItemExamples(item, train, held_example)


def context_examples(
    target: ItemExamples,
    others: Sequence[SourceText],
    recipe: DatasetRecipe,
    render: ContextRenderer,
) -> list[TrainingExample]:
    """The fact's questions asked with it among other memories, as the hub prompts with
    retrieval on: the answer restates the right memory, never a neighbour."""
    if not others:
        return []
    out = []
    for index, example in enumerate(target.train[: recipe.context_per_fact]):
        key = f"{target.item.id}:{index}"
        ranked = sorted(others, key=lambda o: _rank(key + o.id))
        shown = [o for o in ranked if o.id != target.item.id][: recipe.context_distractors]
        position = int(_rank(key)[:8], 16) % (len(shown) + 1)
        shown.insert(position, target.item)
        system, user = render(shown, example.prompt)
        out.append(replace(example, prompt=user, system=system, source="context"))
    return out


def general_examples(count: int, seed: str) -> list[TrainingExample]:
    """``count`` general question-answer pairs written for training (adapters/data), in a stable
    order that depends on ``seed``; never the gate's or the benchmark's own questions."""
    raw = files("adapters").joinpath("data/general_instructions.json").read_text(encoding="utf-8")
    pairs = json.loads(raw)
    order = sorted(range(len(pairs)), key=lambda i: _rank(f"{seed}:{i}"))
    return [
        TrainingExample(pairs[i]["prompt"], pairs[i]["answer"], "general", f"general-{i}")
        for i in (order * (count // max(1, len(order)) + 1))[:count]
    ]
