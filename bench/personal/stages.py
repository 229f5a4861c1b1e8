"""The evaluation's steps against a running hub: store a person's memories, retrieval hit@3,
answers with memory, closed-book answers, and the nightly personalization run."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .dataset import Distractors, GeneralQuestion, Person, Question, rivals
from .hub_client import HubClient
from .judge import contains_term, judge, normalize

HIT_K = 3
POLL_S = 2.0
START_RUN_TIMEOUT_S = 3600.0
Tick = Callable[[str], None]

# Heuristic tags that help a person read the failures; they do not change the verdict.
_REFUSES = re.compile(
    r"\b(i don't|i do not|i can't|i cannot|i'm sorry|i am sorry|unable to|not sure|"
    r"no information|don't have)\b",
    re.IGNORECASE,
)
_ABOUT_PROMPT = re.compile(
    r"\b(the user|facts? (provided|given|listed|about (me|you))|the (list|question|prompt)|"
    r"based on the (facts|information)|you (provided|gave|mentioned)|according to)\b",
    re.IGNORECASE,
)
_METADATA = re.compile(r"\d{4}-\d{2}-\d{2}|\((note|fact)\)|, (note|fact)\)|\[\d+\]")


@dataclass
class Answered:
    """One question asked in one stage, the answer and the verdict."""

    stage: str  # "retrieval", "answer", "adapter", "base"
    person: str
    split: str
    question_id: str
    fact_id: str
    question: str
    visible: bool
    answer: str = ""
    correct: bool = False
    reason: str = ""
    missing: list[list[str]] = field(default_factory=list)
    rivals_named: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    rank: int | None = None  # retrieval: 1-based rank of the fact's memory in the top k
    cited: int | None = None  # answer: the citation number of the fact's memory, if given
    citations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def store_memories(client: HubClient, person: Person, distractors: Distractors) -> dict[str, str]:
    """Store the person's facts and the distractor notes; fact id to memory id."""
    facts = [
        {"text": f.text, "kind": "fact", "happened_at": f.happened_at, "metadata": {}}
        for f in person.facts
    ]
    notes = [
        {"text": n.text, "kind": n.kind, "happened_at": n.happened_at, "metadata": {}}
        for n in distractors.notes
    ]
    ids = client.add_memories(facts + notes)
    return {fact.id: memory_id for fact, memory_id in zip(person.facts, ids, strict=False)}


def retrieval(
    client: HubClient,
    person: Person,
    questions: list[Question],
    memory_ids: dict[str, str],
    tick: Tick,
) -> list[Answered]:
    """hit@3: is the fact's memory among the top 3 results of a search with the question?"""
    out = []
    for q in questions:
        started = time.perf_counter()
        results = client.search(q.text, HIT_K)
        ids = [str(r["id"]) for r in results]
        target = memory_ids[q.fact_id]
        rank = ids.index(target) + 1 if target in ids else None
        out.append(
            Answered(
                "retrieval",
                person.name,
                person.split,
                q.id,
                q.fact_id,
                q.text,
                q.visible,
                answer=" | ".join(str(r.get("snippet") or r.get("text")) for r in results),
                correct=rank is not None,
                reason="hit" if rank else "miss",
                rank=rank,
                seconds=time.perf_counter() - started,
            )
        )
        tick(q.id)
    return out


def failure_tags(answer: str, person: Person, fact_id: str, distractors: Distractors) -> list[str]:
    """What an answer looks like beyond its verdict: refusal, talk about the prompt, echoed
    metadata, another of the person's facts, a distractor's entity (kept for right answers too:
    a right answer that echoes "[1] (2025-02-03, fact) ..." is right by the key terms only)."""
    tags = []
    if _REFUSES.search(answer):
        tags.append("refuses")
    if _ABOUT_PROMPT.search(answer):
        tags.append("talks_about_prompt")
    if _METADATA.search(answer):
        tags.append("echoes_metadata")
    text = normalize(answer)
    others = [
        term
        for f in person.facts
        if f.id != fact_id and len(f.answer) == 1
        for term in f.answer[0]
        if not term.isdigit() or len(term) > 2
    ]
    if any(contains_term(text, term) for term in others):
        tags.append("other_fact")
    entities = [e for values in distractors.entities.values() for e in values]
    if any(contains_term(text, e) for e in entities):
        tags.append("distractor_entity")
    return tags


def ask_person(
    client: HubClient,
    stage: str,
    person: Person,
    questions: list[Question],
    distractors: Distractors,
    memory_ids: dict[str, str],
    seed: int,
    max_tokens: int | None,
    tick: Tick,
) -> list[Answered]:
    """Ask each question in a fresh chat and judge the answer by the fact's key terms."""
    out = []
    for q in questions:
        fact = person.fact(q.fact_id)
        started = time.perf_counter()
        document = client.ask(q.text, seed, max_tokens)
        seconds = time.perf_counter() - started
        text = str(document["choices"][0]["message"].get("content") or "")
        verdict = judge(text, fact.answer, rivals(person, fact, q, distractors))
        citations = list(document.get("citations") or [])
        target = memory_ids.get(q.fact_id)
        cited = next((int(c["number"]) for c in citations if c.get("id") == target), None)
        out.append(
            Answered(
                stage,
                person.name,
                person.split,
                q.id,
                q.fact_id,
                q.text,
                q.visible,
                answer=text,
                correct=verdict.correct,
                reason=verdict.reason,
                missing=verdict.missing,
                rivals_named=verdict.rivals_named,
                tags=failure_tags(text, person, q.fact_id, distractors),
                cited=cited,
                citations=[str(c.get("snippet", ""))[:120] for c in citations],
                seconds=seconds,
            )
        )
        tick(q.id)
    return out


def ask_general(
    client: HubClient,
    stage: str,
    owner: str,
    questions: list[GeneralQuestion],
    seed: int,
    max_tokens: int | None,
    tick: Tick,
) -> list[Answered]:
    """The general-ability questions, judged by key terms (``owner``: whose adapter, or none)."""
    out = []
    for q in questions:
        started = time.perf_counter()
        document = client.ask(q.text, seed, max_tokens)
        text = str(document["choices"][0]["message"].get("content") or "")
        verdict = judge(text, q.answer)
        citations = list(document.get("citations") or [])  # with memory on: the notes given
        out.append(
            Answered(
                stage,
                "general",
                owner,
                q.id,
                q.id,
                q.text,
                False,
                answer=text,
                correct=verdict.correct,
                reason=verdict.reason,
                missing=verdict.missing,
                citations=[str(c.get("snippet", ""))[:120] for c in citations],
                seconds=time.perf_counter() - started,
            )
        )
        tick(q.id)
    return out


@dataclass
class RunReport:
    """What the nightly run did, as the hub reports it."""

    status: str
    message: str
    version: str | None
    job: str | None
    wall_seconds: float
    promoted_by_gate: bool
    decision: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


Progress = Callable[[str, int, int | None], None]


def run_personalization(client: HubClient, progress: Progress) -> RunReport:
    """Start a forced run, follow it to its end, and read the adapter it made."""
    started = time.perf_counter()
    # The hub answers only once the model has written its questions for the facts that the
    # templates cannot phrase (up to personalize_model_questions generations): on a busy
    # machine that alone can take many minutes.
    status = client.post("/v1/personalization/runs", {"force": True}, timeout=START_RUN_TIMEOUT_S)
    while status.get("running") is not None:
        running = status["running"]
        progress(
            str(running.get("phase")), int(running.get("step") or 0), running.get("total_steps")
        )
        time.sleep(POLL_S)
        status = client.get("/v1/personalization")
    wall = time.perf_counter() - started
    last = status.get("last_run") or {}
    outcome = status.get("last_outcome") or {
        "status": last.get("status", "unknown"),
        "message": last.get("message", ""),
    }
    version_id = last.get("version") if outcome["status"] in ("promoted", "rejected") else None
    report = RunReport(
        status=str(outcome["status"]),
        message=str(outcome["message"]),
        version=version_id,
        job=last.get("job"),
        wall_seconds=wall,
        promoted_by_gate=outcome["status"] == "promoted",
    )
    if version_id:
        versions = client.get("/v1/personalization/adapters")["data"]
        version = next(v for v in versions if v["id"] == version_id)
        report.decision = version.get("decision", {})
        report.metrics = version.get("metrics", {})
        report.training = version.get("training", {})
        report.dataset = version.get("dataset", {})
        report.losses = list(version.get("losses", []))
    return report


def _same(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(" ?.!")


@dataclass
class LeakCheck:
    """Evaluation questions found verbatim in the hub's training data, and where it looked."""

    source: str
    examples: int
    leaked: list[str] = field(default_factory=list)  # held-out question ids: a failure
    visible_seen: list[str] = field(default_factory=list)  # visible ones: allowed

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def check_leaks(prompts: list[str], questions: list[Question], source: str) -> LeakCheck:
    """Which evaluation questions appear verbatim (case and spacing aside) among ``prompts``."""
    seen = {_same(p) for p in prompts}
    check = LeakCheck(source, len(prompts))
    for q in questions:
        if _same(q.text) in seen:
            (check.visible_seen if q.visible else check.leaked).append(q.id)
    return check


def preview_prompts(client: HubClient) -> list[str]:
    """Prompts of the dataset preview the hub shows (``GET /v1/personalization/dataset``)."""
    preview = client.get("/v1/personalization/dataset")
    return [str(e["prompt"]) for split in ("train", "held_out") for e in preview.get(split, [])]


def job_prompts(data_dir: Path, job: str | None) -> list[str] | None:
    """Every prompt the run trained and judged on: the job's own dataset files in the data
    directory (None when they are not where the hub keeps them)."""
    if not job:
        return None
    folder = data_dir / "adapters" / "jobs" / job / "dataset"
    files = [folder / "train.jsonl", folder / "held_out.jsonl"]
    if not all(path.exists() for path in files):
        return None
    return [
        str(json.loads(line)["prompt"])
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
