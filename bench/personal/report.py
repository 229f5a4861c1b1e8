"""Figures from the judged answers, per person and per split, and the compact table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from .stages import Answered


@dataclass(frozen=True)
class Rate:
    """k of n."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        """k/n, or None when nothing was measured."""
        return self.k / self.n if self.n else None

    def cell(self) -> str:
        """How the table shows it."""
        return "-" if not self.n else f"{self.k}/{self.n} {100 * self.k / self.n:.0f}%"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"k": self.k, "n": self.n, "rate": self.value}


def _rate(records: list[Answered]) -> Rate:
    return Rate(sum(r.correct for r in records), len(records))


def summarize(records: list[Answered], names: list[str]) -> dict[str, Any]:
    """The figures for the records of these persons (held-out questions unless marked)."""
    mine = [r for r in records if r.person in names]

    def stage(name: str, visible: bool = False) -> list[Answered]:
        return [r for r in mine if r.stage == name and r.visible == visible]

    hits = {r.question_id for r in stage("retrieval") if r.correct}
    answers = stage("answer")
    general = [r for r in records if r.person == "general" and r.split in names]
    summary = {
        "hit_at_3": _rate(stage("retrieval")),
        "answer": _rate(answers),
        "answer_when_hit": _rate([r for r in answers if r.question_id in hits]),
        "answer_when_cited": _rate([r for r in answers if r.cited is not None]),
        "cites_right_memory": Rate(sum(r.cited is not None for r in answers), len(answers)),
        "adapter_alone": _rate(stage("adapter")),
        "adapter_visible": _rate(stage("adapter", True)),
        "base_closed_book": _rate(stage("base")),
        "base_visible": _rate(stage("base", True)),
        "general_adapter": _rate([r for r in general if r.stage == "adapter"]),
        "general_base": _rate([r for r in general if r.stage == "base"]),
        "general_memory": _rate([r for r in general if r.stage == "memory"]),
        # Of the general questions asked with memory on, those given a note, and how they fared.
        "general_memory_noted": _rate([r for r in general if r.stage == "memory" and r.citations]),
    }
    wrong = [r for r in answers if not r.correct]
    failures = Counter(tag for r in wrong for tag in [r.reason, *r.tags])
    right = Counter(tag for r in answers if r.correct for tag in r.tags)
    return {
        **summary,
        "answer_failures": dict(failures.most_common()),
        "right_answer_tags": dict(right.most_common()),
    }


def summary_json(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary with its rates as JSON."""
    return {k: v.to_json() if isinstance(v, Rate) else v for k, v in summary.items()}


COLUMNS = (
    ("hit@3", "hit_at_3"),
    ("answer", "answer"),
    ("answer | hit@3", "answer_when_hit"),
    ("cites right", "cites_right_memory"),
    ("adapter alone", "adapter_alone"),
    ("base closed", "base_closed_book"),
    ("adapter, visible q", "adapter_visible"),
    ("general adapter / base", ""),
    ("general, memory on", "general_memory"),
)


def print_table(console: Console, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """One row per person and per split total."""
    table = Table(title="Personal intelligence (held-out questions unless marked)")
    table.add_column("person")
    table.add_column("split")
    for title, _ in COLUMNS:
        table.add_column(title, justify="right")
    for label, split, summary in rows:
        cells = []
        for _, key in COLUMNS:
            if key:
                cells.append(summary[key].cell())
            else:
                cells.append(
                    f"{summary['general_adapter'].cell()} / {summary['general_base'].cell()}"
                )
        table.add_row(label, split, *cells, end_section=label.endswith("total"))
    console.print(table)


def print_failures(console: Console, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """How the wrong answers with memory look, by heuristic tag."""
    for label, _split, summary in rows:
        if label.endswith("total") and summary["answer_failures"]:
            tags = ", ".join(f"{k} {v}" for k, v in summary["answer_failures"].items())
            console.print(f"{label}: wrong answers with memory: {tags}")
        noted = summary["general_memory_noted"]
        if label.endswith("total") and noted.n:
            console.print(
                f"{label}: general questions given a note with memory on: {noted.n} of "
                f"{summary['general_memory'].n}, answered right {noted.k}"
            )
        if label.endswith("total") and summary["right_answer_tags"]:
            tags = ", ".join(f"{k} {v}" for k, v in summary["right_answer_tags"].items())
            console.print(f"{label}: right answers that also show: {tags}")
