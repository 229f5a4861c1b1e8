"""How well the nightly run's training questions cover the way a person asks, in seconds.

For each held-out question of the evaluation's persons (bench/personal/persons), the training
question closest in meaning (by the memory's embedding model) is found among every training
question a nightly run would build from the person's facts: templated questions and cue words,
the gate's held-out question left out, as adapters/fact_examples.py makes them. A held-out
question is covered when that closest training question is one of its own fact's. The adapter
alone answers worst for the persons whose questions are covered worst (docs/benchmarks.md), so
this is a quick first look at a change to the question rules before a 15-minute training run;
it is not a measure of answers.

    python bench/bench_question_coverage.py                 # the development persons
    python bench/bench_question_coverage.py --persons ngaire --show
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from personal.dataset import Person, load_persons
from rich.console import Console
from rich.table import Table

from adapters.config import DatasetRecipe
from adapters.examples import PersonInputs, SourceText
from adapters.fact_examples import item_examples
from hub.personalization.cues import with_cue_words
from memory.embedder import Embedder, SentenceTransformerEmbedder

CUE_WORDS = 6  # the hub's default personalize_cue_words


def training_questions(person: Person, embedder: Embedder) -> tuple[list[str], list[str]]:
    """Every training question a nightly run builds from ``person``'s facts, and its fact's id."""
    texts = [SourceText(fact.id, "fact", fact.text) for fact in person.facts]
    inputs = with_cue_words(embedder, PersonInputs(texts=texts), CUE_WORDS)
    questions: list[str] = []
    owners: list[str] = []
    for item in inputs.texts:
        for example in item_examples(item, DatasetRecipe.questions_per_fact, True).train:
            questions.append(example.prompt)
            owners.append(item.id)
    return questions, owners


def coverage(person: Person, embedder: Embedder, console: Console | None) -> tuple[int, int]:
    """How many of ``person``'s held-out questions are covered, and how many there are; with
    ``console``, each uncovered one is shown with the training question closest to it."""
    questions, owners = training_questions(person, embedder)
    trained = np.asarray(embedder.embed(questions), dtype=np.float32)
    held = person.questions()
    asked = np.asarray(embedder.embed([q.text for q in held]), dtype=np.float32)
    closest = np.argmax(asked @ trained.T, axis=1)
    covered = 0
    for question, index in zip(held, closest, strict=True):
        if owners[int(index)] == question.fact_id:
            covered += 1
        elif console is not None:
            console.print(
                f"[bold]{question.fact_id}[/bold] {question.text}\n"
                f"    closest: {questions[int(index)]} ({owners[int(index)]})"
            )
    return covered, len(held)


def main(argv: list[str] | None = None) -> int:
    """Print each person's covered held-out questions."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", default="", help="comma list (default: the dev persons)")
    parser.add_argument("--show", action="store_true", help="show each uncovered question")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    persons = load_persons()
    wanted = [name for name in args.persons.split(",") if name]
    chosen = (
        [p for p in persons if p.name in wanted]
        if wanted
        else [p for p in persons if p.split == "dev"]
    )
    if wanted and len(chosen) != len(wanted):
        known = ", ".join(p.name for p in persons)
        parser.error(f"unknown person in {args.persons!r}; known: {known}")
    console = Console()
    embedder = SentenceTransformerEmbedder()
    table = Table(title="Held-out questions covered by training questions")
    table.add_column("person")
    table.add_column("covered", justify="right")
    total = [0, 0]
    for person in chosen:
        covered, count = coverage(person, embedder, console if args.show else None)
        total = [total[0] + covered, total[1] + count]
        table.add_row(person.name, f"{covered}/{count} {covered / count:.0%}")
    if len(chosen) > 1:
        table.add_row("total", f"{total[0]}/{total[1]} {total[0] / max(total[1], 1):.0%}")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
