"""Benchmark nightly personalization on a day of data, against a bare peft training loop.

A day of data: 200 conversation turns (a question and its answer, in 20 conversations, a tenth
of the answers corrected by the person) and 50 facts, made up deterministically; ``--days 30``
seeds a month of it (6,000 turns, 1,500 facts). This measures:
  - training tokens/s of the job (the child process the hub runs: `python -m adapters.train`)
    against a bare peft loop on the same examples, batches, LoRA settings, anchor to the base
    model and torch threads, run first in this process (goal: ratio at least 0.9)
  - the whole job's wall time, from collecting the data to the gated, registered adapter, with
    the embedded SmolLM2 135M and the hub's default training settings (goal: under 15 minutes)

The two never run at the same time (two torch thread pools on 2 cores would slow both).

    .venv/bin/python bench/bench_personalize.py [--threads 2] [--bare-steps 40] [--max-steps N]
    .venv/bin/python bench/bench_personalize.py --days 30 --bare-steps 8      # a month of data
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

from adapters.base_model import load_base
from adapters.chat_format import tokenize_pair
from adapters.dataset import Dataset
from adapters.job import JobSpec, read_result
from adapters.schedule import batch_schedule
from adapters.trainer import add_lora, collate
from hub.conversations.store import AssistantAnswer, SqliteConversationStore
from hub.models.catalog import ModelCatalog
from hub.personalization.jobs import (
    child_command,
    child_environment,
    finish_run,
    plan_run,
)
from hub.settings import load_settings
from memory.sqlite_store import MEMORY_DB_NAME

PEOPLE = ["Ana", "Rui", "Marta", "João", "Inês", "Tiago", "Sofia", "Pedro", "Clara", "Nuno"]
PLACES = ["Porto", "Lisbon", "Braga", "Faro", "Coimbra", "Évora", "Aveiro", "Sintra"]
THINGS = ["bike", "guitar", "kayak", "camera", "laptop", "tent", "drone", "telescope"]
QUESTIONS = [
    ("When is {p}'s birthday?", "{p}'s birthday is on the {d}th of {m}."),
    ("Where does {p} live?", "{p} lives in {c}, near the old market."),
    ("Where did I leave my {t}?", "You left your {t} at {p}'s flat in {c}."),
    ("What should I bring to {p}'s dinner?", "Bring the {t} and a bottle of wine for {p}."),
    ("How long is the drive to {c}?", "About {d} minutes to {c} if you leave before eight."),
]
MONTHS = ["March", "April", "May", "June", "July", "October"]


def seed_days(data_dir: Path, days: int) -> None:
    """Write ``days`` days of conversations and facts into the data directory."""
    from memory.embedder import SentenceTransformerEmbedder
    from memory.sqlite_store import SqliteMemoryStore
    from memory.types import NewMemory

    rng = random.Random(20251123)
    store = SqliteConversationStore.open(data_dir)
    for conversation in range(20 * days):
        summary = store.create_conversation(f"day chat {conversation}")
        for turn in range(10):
            question, answer = rng.choice(QUESTIONS)
            fill = {
                "p": rng.choice(PEOPLE),
                "c": rng.choice(PLACES),
                "t": rng.choice(THINGS),
                "d": rng.randint(10, 28),
                "m": rng.choice(MONTHS),
            }
            store.add_user_message(summary.id, question.format(**fill) + f" ({turn})")
            text = answer.format(**fill)
            saved = store.add_assistant_message(
                summary.id, AssistantAnswer(text, "smollm2-135m-instruct", False, "stop", None)
            )
            if saved is not None and turn == 0:
                with store.database.transaction() as db:
                    db.execute(
                        "UPDATE messages SET edited_content = ? WHERE id = ?",
                        [text + " Remember to call first.", saved.id],
                    )
    store.close()
    facts = [
        f"My {rng.choice(THINGS)} number {n} is kept at {rng.choice(PEOPLE)}'s place in "
        f"{rng.choice(PLACES)}."
        for n in range(50 * days)
    ]
    memory = SqliteMemoryStore(data_dir / MEMORY_DB_NAME, SentenceTransformerEmbedder())
    memory.add_many([NewMemory(fact, kind="fact", source="import") for fact in facts])
    memory.close()


def bare_peft_rate(dataset: Dataset, model_path: Path, spec: JobSpec, steps: int) -> float:
    """Tokens/s of a plain peft loop: same examples, batches, LoRA settings, anchor to the base
    model on general text (adapters/anchor.py, when the job has one) and threads."""
    import torch

    from adapters.anchor import AnchorTargets, AnchorText

    base = load_base(model_path, spec.threads)
    config = spec.train
    examples = [
        tokenize_pair(base.tokenizer, e.prompt, e.answer, config.max_seq_tokens)
        for e in dataset.train
    ]
    model = add_lora(base.model, config)
    anchor = AnchorText.for_tokenizer(base.tokenizer) if config.anchor_weight > 0 else None
    targets = None if anchor is None else AnchorTargets(anchor)
    if targets is not None:
        targets.prepare(model)  # as the job does before its first step
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
    schedule = batch_schedule([e.length for e in examples], config)[: steps + 1]
    tokens = 0
    started = time.perf_counter()
    for step, indices in enumerate(schedule):
        if step == 1:  # the first step warms torch up (the job warms up while it evaluates)
            tokens, started = 0, time.perf_counter()
        batch = collate([examples[i] for i in indices], int(base.tokenizer.pad_token_id))
        loss = model(**batch).loss
        if targets is not None:
            loss = loss + config.anchor_weight * targets.divergence(model, step)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - started)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for both")
    parser.add_argument("--bare-steps", type=int, default=40, help="steps of the bare loop")
    parser.add_argument(
        "--max-steps", type=int, default=None, help="job steps (default: the hub's setting)"
    )
    parser.add_argument("--days", type=int, default=1, help="days of data (30: a month)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-personalize-") as folder:
        data_dir = Path(folder)
        print(
            f"seeding {args.days} day(s) of data ({200 * args.days} turns, "
            f"{50 * args.days} facts)...",
            flush=True,
        )
        seed_days(data_dir, args.days)
        settings = load_settings(
            data_dir=data_dir,
            personalize_threads=args.threads,
            personalize_max_steps=args.max_steps,
        )
        catalog = ModelCatalog(data_dir)
        model_name = catalog.active_name()
        model_path = catalog.path_for(model_name)

        job_started = time.perf_counter()
        store = SqliteConversationStore.open(data_dir)
        plan = plan_run(settings, store.database, model_name, model_path, force=True)
        store.close()
        planned = time.perf_counter() - job_started
        assert plan.job_dir is not None and plan.dataset is not None, plan.skipped
        spec = JobSpec.read(plan.job_dir)
        summary = plan.dataset.summary
        print(
            f"dataset: {summary.train_examples} train / {summary.held_out_examples} held out "
            f"({summary.by_source}); planned in {planned:.1f} s",
            flush=True,
        )

        # The bare loop first, in this process, then freed before the job starts.
        print(f"bare peft loop: {args.bare_steps} steps...", flush=True)
        bare = bare_peft_rate(plan.dataset, model_path, spec, args.bare_steps)
        gc.collect()

        print("the job (child process, hub defaults)...", flush=True)
        child_started = time.perf_counter()
        with (plan.job_dir / "child.log").open("ab") as log:
            code = subprocess.run(
                child_command(plan.job_dir),
                stdout=log,
                stderr=log,
                env=child_environment(args.threads),
                check=False,
            ).returncode
        child_seconds = time.perf_counter() - child_started
        result = read_result(plan.job_dir) or {}
        outcome = finish_run(settings, plan, code)
        wall = planned + child_seconds
        job_rate = float(result.get("tokens_per_second", 0.0))
        shown = ("steps", "total_steps", "stopped_by_budget", "train_tokens", "train_seconds")
        print(json.dumps({k: result.get(k) for k in shown}))
        print(f"outcome: {outcome.status}: {outcome.message}")
        print()
        print(f"training tokens/s: job {job_rate:.1f}, bare peft {bare:.1f}")
        print(f"ratio job/bare: {job_rate / bare:.3f} (goal >= 0.9)")
        print(
            f"whole job wall time: {wall / 60:.1f} min (goal < 15 min; budget "
            f"{settings.personalize_time_budget_minutes:.0f} min); of it training "
            f"{float(result.get('train_seconds', 0)) / 60:.1f} min"
        )


if __name__ == "__main__":
    main()
