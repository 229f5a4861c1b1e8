"""Build the training set from the person's own data: conversations, facts, notes, transcripts."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.config import DatasetRecipe
from adapters.curation import deduplicate, scrub_example, scrub_text, split_held_out
from adapters.examples import (
    PersonInputs,
    SourceConversation,
    SourceText,
    TrainingExample,
    read_examples,
    write_examples,
)
from adapters.fact_examples import (
    ContextRenderer,
    about_the_person,
    context_examples,
    general_examples,
    item_examples,
)

# Re-exported: the hub restates memories with it too (hub/recall/grounding.py).
from adapters.fact_examples import second_person as second_person
from adapters.fact_questions import can_phrase

TRAIN_FILE = "train.jsonl"
HELD_OUT_FILE = "held_out.jsonl"
SUMMARY_FILE = "summary.json"
# Phone numbers, emails and street addresses are replaced before training unless told not to.
SCRUB_PII = True


def has_template(fact_text: str) -> bool:
    """Whether the question rules can ask for a part of this fact (else the model may write a
    question for it)."""
    return can_phrase(fact_text)


def fact_questions(
    fact: SourceText, count: int = DatasetRecipe.questions_per_fact
) -> list[TrainingExample]:
    """A fact asked ``count`` ways (model-written questions first), answered in the second
    person."""
    return item_examples(fact, count, hold_out=False).train


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


def _forms_per_item(item: SourceText, recipe: DatasetRecipe) -> int:
    if item.kind != "fact":
        return recipe.questions_per_note
    return (
        recipe.questions_per_fact
        if about_the_person(item.text)
        else recipe.questions_per_other_fact
    )


def _interleave(per_item: list[list[TrainingExample]]) -> list[TrainingExample]:
    """Round by round: every item's first form, then every item's second, ... so a run that
    can afford only part of the data still sees every memory (the trainer keeps a prefix)."""
    out: list[TrainingExample] = []
    for round_ in range(max((len(forms) for forms in per_item), default=0)):
        out += [forms[round_] for forms in per_item if round_ < len(forms)]
    return out


def _spread(main: list[TrainingExample], extra: list[TrainingExample]) -> list[TrainingExample]:
    """``extra`` spread evenly through ``main``."""
    if not extra:
        return main
    out: list[TrainingExample] = []
    step = (len(main) + len(extra)) / len(extra)
    slots = {int(i * step) for i in range(len(extra))}
    pending, index = list(extra), 0
    for position in range(len(main) + len(extra)):
        if position in slots and pending:
            out.append(pending.pop(0))
        elif index < len(main):
            out.append(main[index])
            index += 1
    return out + pending + main[index:]


def _same(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


MAX_MERGED_ANSWERS = 3


def _merge_shared_prompts(examples: list[TrainingExample]) -> list[TrainingExample]:
    """One example per question: a question two or three memories share ("What do you know
    about my sister?") is answered with all of them, never once with each; one that more share
    says too little to learn and is left out."""
    first: dict[tuple[str, str], int] = {}
    out: list[TrainingExample] = []
    for example in examples:
        key = (example.system, _same(example.prompt))
        if key not in first:
            first[key] = len(out)
            out.append(example)
            continue
        kept = out[first[key]]
        if example.answer not in kept.answer:
            merged = f"{kept.answer} {example.answer}"
            out[first[key]] = replace(kept, answer=merged, expect="", preferred=True)
    # preferred marks a merged answer here; it is reset before the examples leave.
    return [
        replace(e, preferred=False) if e.source != "conversation" else e
        for e in out
        if not (e.source != "conversation" and e.preferred and _answers(e) > MAX_MERGED_ANSWERS)
    ]


def _answers(example: TrainingExample) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", example.answer))


def build_dataset(
    inputs: PersonInputs,
    scrub: bool = SCRUB_PII,
    held_out_fraction: float = 0.1,
    recipe: DatasetRecipe | None = None,
    context: ContextRenderer | None = None,
) -> Dataset:
    """Turn the person's data into curated, split training examples: conversations as they
    were, facts and notes asked many ways (a question per fact kept aside, not trained on),
    facts asked among other memories when ``context`` renders them, general questions mixed in."""
    recipe = recipe or DatasetRecipe()
    conversations: list[TrainingExample] = []
    excluded = 0
    for conversation in inputs.conversations:
        if conversation.excluded:
            excluded += 1
            continue
        conversations.extend(conversation_examples(conversation))
    kept, dropped = deduplicate(
        [scrub_example(e) for e in conversations] if scrub else conversations
    )
    train_conversations, held_out = split_held_out(
        kept, held_out_fraction, recipe.max_held_out_turns
    )

    items = [t for t in inputs.texts if t.text.strip() and t.kind in ("fact", "note", "transcript")]
    if scrub:
        # Scrubbed before questions and memory prompts are made from them: scrubbing a rendered
        # prompt would take its memories' dates for phone numbers.
        items = [replace(t, text=scrub_text(t.text)) for t in items]
    own_facts = [t for t in items if t.kind == "fact" and about_the_person(t.text)]
    other_facts = [t for t in items if t.kind == "fact" and not about_the_person(t.text)]
    # The gate judges by the facts trained first: the person's own (others' when none).
    held_ids = {t.id for t in (own_facts or other_facts)[: recipe.max_held_out_facts]}
    first: list[list[TrainingExample]] = []  # facts about the person
    then: list[list[TrainingExample]] = []  # facts about others, notes, transcripts
    for item in sorted(items, key=lambda t: hashlib.sha256(t.id.encode()).hexdigest()):
        made = item_examples(item, _forms_per_item(item, recipe), item.id in held_ids)
        forms = made.train
        if context is not None and item in own_facts:
            shown = context_examples(made, items, recipe, context)
            forms = forms[:1] + shown + forms[1:]
        (first if item in own_facts else then).append(forms)
        if made.held_out is not None:
            held_out.append(made.held_out)
    # Most important first, as the trainer keeps a prefix when the time budget is short: the
    # person's conversations and facts about them, then the rest, each round by round.
    personal = train_conversations + _interleave(first) + _interleave(then)
    asked_aside = {_same(e.prompt) for e in held_out}
    personal = [e for e in _merge_shared_prompts(personal) if _same(e.prompt) not in asked_aside]
    fraction = min(max(recipe.general_fraction, 0.0), 0.9)
    general = general_examples(round(len(personal) * fraction / (1 - fraction)), "general")
    train = _spread(personal, general) if personal else []
    by_source: dict[str, int] = {}
    for example in train + held_out:
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
