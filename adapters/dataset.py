"""Build the training set from the person's own data: conversations, facts, notes, transcripts."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.curation import deduplicate, scrub_example, split_held_out
from adapters.examples import (
    PersonInputs,
    SourceConversation,
    SourceText,
    TrainingExample,
    read_examples,
    write_examples,
)

TRAIN_FILE = "train.jsonl"
HELD_OUT_FILE = "held_out.jsonl"
SUMMARY_FILE = "summary.json"
# Phone numbers, emails and street addresses are replaced before training unless told not to.
SCRUB_PII = True

_POSSESSIVE_FACT = re.compile(
    r"^(?:my|the user's|user's)\s+(?P<subject>.+?)\s+(?P<verb>is|are|was|were)\s+"
    r"(?P<value>.+?)[.!]?$",
    re.IGNORECASE,
)
_FIRST_TO_SECOND = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "am": "are",
    "i'm": "you're",
    "myself": "yourself",
    "we": "you",
    "our": "your",
}
_WORD_OR_OTHER = re.compile(r"[A-Za-z']+|[^A-Za-z']+")
_TIME_WORDS = ("birthday", "anniversary", "date", "day", "when")


def second_person(text: str) -> str:
    """Turn the person's own words ("my sister") into the assistant's ("your sister")."""
    out: list[str] = []
    for piece in _WORD_OR_OTHER.findall(text):
        swapped = _FIRST_TO_SECOND.get(piece.lower())
        if swapped is None:
            out.append(piece)
            continue
        # "I" is upper case anywhere; only a sentence's first word keeps its capital.
        starts_sentence = not "".join(out).strip() or "".join(out).rstrip()[-1] in ".!?"
        out.append(swapped.capitalize() if starts_sentence else swapped)
    return "".join(out)


def has_template(fact_text: str) -> bool:
    """Whether the templates can turn this fact into specific questions ("My X is Y.")."""
    return _POSSESSIVE_FACT.match(" ".join(fact_text.split())) is not None


def fact_questions(fact: SourceText) -> list[TrainingExample]:
    """Question/answer pairs for one fact, made by templates and by the local model."""
    sentence = " ".join(fact.text.split()).rstrip()
    answer = second_person(sentence)
    if not answer.endswith((".", "!", "?")):
        answer += "."
    found = _POSSESSIVE_FACT.match(sentence)
    model_prompts = list(fact.questions)
    if found is None:
        prompts = [
            "What do you know about me?",
            "Tell me one thing you remember about me.",
            "What is something you know about me?",
        ]
        return [TrainingExample(p, answer, "fact", fact.id) for p in model_prompts + prompts]
    subject, verb, value = found.group("subject"), found.group("verb"), found.group("value")
    wh = "When" if any(word in subject.lower() for word in _TIME_WORDS) else "What"
    prompts = [
        f"{wh} {verb} my {subject}?",
        f"Do you know {wh.lower()} my {subject} {verb}?",
        f"Remind me: {wh.lower()} {verb} my {subject}?",
        f"Tell me my {subject}.",
    ]
    return [
        TrainingExample(p, answer, "fact", fact.id, expect=value) for p in prompts + model_prompts
    ]


def text_example(item: SourceText) -> TrainingExample:
    """A note or transcript as something the person can ask the assistant to recall."""
    words = item.text.split()
    topic = " ".join(words[:6]) + ("…" if len(words) > 6 else "")
    if item.kind == "transcript":
        when = item.happened_at[:10] or "recently"
        prompt = f"What did I say on {when} about {topic}?"
    else:
        prompt = f"What did I note about {topic}?"
    return TrainingExample(prompt, second_person(item.text), item.kind, item.id)


def conversation_examples(conversation: SourceConversation) -> list[TrainingExample]:
    """(question, answer) pairs of one conversation; an edited or good answer is preferred, an
    answer marked bad without a correction is left out."""
    examples = []
    messages = conversation.messages
    for question, answer in itertools.pairwise(messages):
        if question.role != "user" or answer.role != "assistant":
            continue
        text = answer.edited or answer.content
        if not text.strip() or (answer.rating == "bad" and not answer.edited):
            continue
        preferred = bool(answer.edited) or answer.rating == "good"
        examples.append(
            TrainingExample(question.content, text, "conversation", conversation.id, preferred)
        )
    return examples


@dataclass
class DatasetSummary:
    """What went into a dataset, for the registry and `hub personalize dataset --show`."""

    train_examples: int = 0
    held_out_examples: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    preferred: int = 0
    duplicates_dropped: int = 0
    excluded_conversations: int = 0
    scrubbed: bool = False
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


@dataclass
class Dataset:
    """The curated training and held-out examples."""

    train: list[TrainingExample]
    held_out: list[TrainingExample]
    summary: DatasetSummary

    def write(self, folder: Path) -> None:
        """Write train.jsonl, held_out.jsonl and summary.json into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        write_examples(folder / TRAIN_FILE, self.train)
        write_examples(folder / HELD_OUT_FILE, self.held_out)
        (folder / SUMMARY_FILE).write_text(json.dumps(self.summary.to_json(), indent=2) + "\n")

    @classmethod
    def read(cls, folder: Path) -> Dataset:
        """Read a dataset ``write`` made."""
        summary = DatasetSummary(**json.loads((folder / SUMMARY_FILE).read_text()))
        return cls(
            read_examples(folder / TRAIN_FILE), read_examples(folder / HELD_OUT_FILE), summary
        )


def _dataset_hash(train: list[TrainingExample], held_out: list[TrainingExample]) -> str:
    digest = hashlib.sha256()
    for example in [*train, TrainingExample("--held-out--", "", "", ""), *held_out]:
        digest.update(json.dumps(example.to_json(), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def build_dataset(
    inputs: PersonInputs, scrub: bool = SCRUB_PII, held_out_fraction: float = 0.1
) -> Dataset:
    """Turn the person's data into curated, split training examples."""
    examples: list[TrainingExample] = []
    excluded = 0
    for conversation in inputs.conversations:
        if conversation.excluded:
            excluded += 1
            continue
        examples.extend(conversation_examples(conversation))
    for item in inputs.texts:
        if item.kind == "fact":
            examples.extend(fact_questions(item))
        elif item.kind in ("note", "transcript") and item.text.strip():
            examples.append(text_example(item))
    if scrub:
        examples = [scrub_example(example) for example in examples]
    kept, dropped = deduplicate(examples)
    train, held_out = split_held_out(kept, held_out_fraction)
    by_source: dict[str, int] = {}
    for example in kept:
        by_source[example.source] = by_source.get(example.source, 0) + 1
    summary = DatasetSummary(
        train_examples=len(train),
        held_out_examples=len(held_out),
        by_source=by_source,
        preferred=sum(1 for example in kept if example.preferred),
        duplicates_dropped=dropped,
        excluded_conversations=excluded,
        scrubbed=scrub,
        sha256=_dataset_hash(train, held_out),
    )
    return Dataset(train, held_out, summary)
