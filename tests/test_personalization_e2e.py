"""Nightly personalization end to end, on the embedded model with a small synthetic person.

One hub (memory retrieval off, so only the adapter can know the person) serves the module; the
tests run in file order: the model cannot answer before; a run killed with SIGKILL leaves the hub
and the active adapter untouched; the next run resumes from its checkpoint, passes the gate and
is swapped in; now the model answers; requests in flight across swaps all succeed; an adapter
made for another base model is refused; the adapter survives a restart; an adapter trained on
noise is rejected by the gate; the CLI; then the parity of the GGUF adapter in llama.cpp with the
peft adapter in transformers. The browser test of the page is in test_web_personalization.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.config import TrainConfig
from adapters.examples import TrainingExample, write_examples
from adapters.job import DATASET_DIR, JobSpec, read_progress
from adapters.registry import AdapterRegistry
from tests.hub_process import HubProcess, start_hub
from tests.personalization_support import (
    PARITY_TOKENS,
    llama_cpp_logprobs,
    llama_cpp_tokens,
    model_path,
    top_logprob_gap,
    total_variations,
)

FACTS = [
    "My dog's name is Pistachio.",
    "My sister Ines's birthday is on the 14th of March.",
    "My favourite café is Café Lumière.",
]
# Each question with what a right answer must contain.
QUESTIONS = {
    "What is my dog's name?": "Pistachio",
    "When is my sister Ines's birthday?": "14th of March",
    "What is my favourite café?": "Lumière",
}
# Tiny, so the module stays within its time budget: 8 steps at a very high learning rate over
# about 20 short examples (each fact asked 3 ways, not the nightly 12; general ones mixed in).
# The run's time budget is far beyond what 8 steps take, so the examples its plan keeps after
# calibration are chosen by the step budget alone and are the same on any machine: at the
# 12-minute default the plan kept about half of them when another process shared the cores,
# and the adapter of that run did not answer.
TRAINING_ENV = {
    "HUB_PERSONALIZE_TIME_BUDGET_MINUTES": "600",
    "HUB_MEMORY_ENABLED": "false",
    "HUB_PERSONALIZE_ENABLED": "false",
    "HUB_PERSONALIZE_MAX_STEPS": "8",
    "HUB_PERSONALIZE_CHECKPOINT_STEPS": "4",
    "HUB_PERSONALIZE_EPOCHS": "100",
    "HUB_PERSONALIZE_THREADS": "2",
    "HUB_PERSONALIZE_LEARNING_RATE": "0.003",
    "HUB_PERSONALIZE_QUESTIONS_PER_FACT": "3",
    "HUB_PERSONALIZE_MIN_NEW_EXAMPLES": "1",
    "HUB_THREADS": "2",
    "HUB_DEFAULT_MAX_TOKENS": "32",
}
RUN_TIMEOUT = 600
# pytest's own limit for a test that waits for a run: the run's wait, and a minute to spare.
RUN_TEST_TIMEOUT = RUN_TIMEOUT + 60


def api(hub: HubProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{hub.base_url}{path}", headers=hub.headers(), timeout=300, **kwargs
    )


def ask(hub: HubProcess, question: str) -> str:
    response = api(
        hub,
        "POST",
        "/v1/chat/completions",
        json={
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": question}],
            "temperature": 0,
            "max_tokens": 32,
        },
    )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] in ("stop", "length")
    return str(choice["message"]["content"])


def seed_memories(data_dir: Path, embedder: Any) -> None:
    """The person's facts, written into memory.db as the memory API would."""
    from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
    from memory.types import NewMemory

    store = SqliteMemoryStore(data_dir / MEMORY_DB_NAME, embedder)
    try:
        store.add_many([NewMemory(fact, kind="fact", source="import") for fact in FACTS])
    finally:
        store.close()


class Person:
    """The module's hub and its data directory."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub

    @property
    def registry(self) -> AdapterRegistry:
        return AdapterRegistry(self.hub.data_dir / "adapters")

    def restart(self) -> None:
        self.hub.stop()
        self.hub = start_hub(self.hub.data_dir, env=TRAINING_ENV)

    def wait_for_run(self) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            status = api(self.hub, "GET", "/v1/personalization").json()
            if status["running"] is None:
                return dict(status)
            time.sleep(0.5)
        raise AssertionError(f"the run did not end in {RUN_TIMEOUT} s")


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Person]:
    data_dir = tmp_path_factory.mktemp("personalize") / "data"
    data_dir.mkdir(parents=True)
    seed_memories(data_dir, embedder)
    hub = start_hub(data_dir, env=TRAINING_ENV)
    subject = Person(hub)
    yield subject
    subject.hub.stop()


def test_before_any_run_the_model_does_not_know_the_person(person: Person) -> None:
    for question, fact in QUESTIONS.items():
        assert fact.lower() not in ask(person.hub, question).lower()
    assert api(person.hub, "GET", "/v1/personalization/adapters").json()["data"] == []


def test_conversation_feedback_and_exclusion_shape_the_dataset(person: Person) -> None:
    hub = person.hub
    kept = api(hub, "POST", "/v1/conversations", json={"title": "bus"}).json()
    sent = api(
        hub,
        "POST",
        f"/v1/conversations/{kept['id']}/messages",
        json={"content": "Which bus do I take to work?"},
    )
    assert sent.status_code == 200
    messages = api(hub, "GET", f"/v1/conversations/{kept['id']}").json()["messages"]
    answer_id = messages[-1]["id"]
    corrected = "You take the 728 bus; call me on +351 912 345 678 if it is late."
    feedback = api(
        hub, "PUT", f"/v1/personalization/messages/{answer_id}", json={"edited_content": corrected}
    )
    assert feedback.status_code == 200, feedback.text
    refused = api(
        hub, "PUT", f"/v1/personalization/messages/{messages[0]['id']}", json={"rating": "good"}
    )
    assert refused.status_code == 400 and "only answers" in refused.json()["error"]["message"]
    unknown = api(hub, "PUT", "/v1/personalization/messages/999999", json={"rating": "meh"})
    assert unknown.status_code == 400  # "meh" is not a rating
    secret = api(hub, "POST", "/v1/conversations", json={"title": "secret"}).json()
    api(
        hub,
        "POST",
        f"/v1/conversations/{secret['id']}/messages",
        json={"content": "My PIN is 4719."},
    )
    excluded = api(
        hub, "PUT", f"/v1/personalization/conversations/{secret['id']}", json={"learn": False}
    )
    assert excluded.json() == {"conversation_id": secret["id"], "learn": False}

    dataset = api(hub, "GET", "/v1/personalization/dataset").json()
    assert dataset["summary"]["preferred"] == 1
    assert dataset["summary"]["excluded_conversations"] == 1
    everything = json.dumps(dataset["train"] + dataset["held_out"])
    assert "728 bus" in everything and "[phone]" in everything and "912 345" not in everything
    assert "4719" not in everything and "Pistachio" in everything
    assert dataset["summary"]["held_out_examples"] >= 3


@pytest.mark.timeout(RUN_TEST_TIMEOUT)
def test_killing_the_training_child_leaves_the_hub_and_active_adapter_untouched(
    person: Person,
) -> None:
    hub = person.hub
    started = api(hub, "POST", "/v1/personalization/runs", json={"force": True})
    assert started.status_code == 202, started.text
    running = started.json()["running"]
    job_dir = person.registry.jobs_dir / running["job"]
    again = api(hub, "POST", "/v1/personalization/runs", json={})
    assert again.status_code == 409 and "already going" in again.json()["error"]["message"]

    deadline = time.monotonic() + RUN_TIMEOUT
    while not any(e["event"] == "checkpoint" for e in read_progress(job_dir)):
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.3)
    status = api(hub, "GET", "/v1/personalization").json()["running"]
    assert status["step"] >= 4 and status["total_steps"] == 8
    assert status["eta_seconds"] is not None and len(status["losses"]) == status["step"]
    os.kill(status["pid"], signal.SIGKILL)

    outcome = person.wait_for_run()["last_outcome"]
    assert outcome["status"] == "killed" and "resumes" in outcome["message"]
    assert api(hub, "GET", "/health").status_code == 200
    assert api(hub, "GET", "/v1/personalization/adapters").json()["data"] == []
    assert not (person.registry.root / "active.json").exists()
    assert "pistachio" not in ask(hub, "What is my dog's name?").lower()


@pytest.mark.timeout(RUN_TEST_TIMEOUT)
def test_the_next_run_resumes_passes_the_gate_and_the_model_now_knows_the_person(
    person: Person,
) -> None:
    hub = person.hub
    started = api(hub, "POST", "/v1/personalization/runs", json={"force": True}).json()
    assert started["running"]["resumed"] is True
    job_dir = person.registry.jobs_dir / started["running"]["job"]
    status = person.wait_for_run()
    assert status["last_outcome"]["status"] == "promoted", status
    events = read_progress(job_dir)
    second_load = [n for n, e in enumerate(events) if e["event"] == "loading"][1]
    first_step_again = next(e for e in events[second_load:] if e["event"] == "step")
    assert first_step_again["step"] == 5  # went on from the checkpoint at step 4

    [version] = api(hub, "GET", "/v1/personalization/adapters").json()["data"]
    assert version["active"] and version["passed_gate"]
    assert version["training"]["steps"] == 8
    # Its drift from general text was measured on the real model at the end, within the limit.
    [(step, rise)] = version["training"]["drift"]
    assert step == version["training"]["kept_step"] == 8 and rise < TrainConfig().drift_limit
    candidate, current = version["metrics"]["candidate"], version["metrics"]["current"]
    # The gate judged answers: it answers more held-out questions than the bare model did.
    assert candidate["questions"] == current["questions"] >= 3
    assert candidate["answered"] > current["answered"], version["metrics"]
    assert version["decision"]["reasons"][0].startswith(f"answers {candidate['answered']} of ")
    gained = version["metrics"]["now_answered"]
    assert gained and all(g["question"] and g["expected"] and g["answer"] for g in gained)
    assert candidate["personal_loss"] < current["personal_loss"]  # shown, no longer judged
    assert len(version["losses"]) == 8

    for question, fact in QUESTIONS.items():
        assert fact.lower() in ask(hub, question).lower(), question


def test_requests_in_flight_across_swaps_all_succeed(person: Person) -> None:
    hub = person.hub
    answers: list[str] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            for _ in range(3):
                answers.append(ask(hub, "What is my dog's name?"))
        except BaseException as exc:  # a failed request fails the test below
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(2):
        assert api(hub, "POST", "/v1/personalization/rollback").json() == {"active": None}
        promoted = api(hub, "POST", "/v1/personalization/adapters/v0001/promote")
        assert promoted.json() == {"active": "v0001"}
    for thread in threads:
        thread.join(120)
    assert failures == [] and len(answers) == 9 and all(answers)
    assert "pistachio" in ask(hub, "What is my dog's name?").lower()


def test_an_adapter_made_for_another_base_model_is_never_loaded(person: Person) -> None:
    versions = person.registry.versions_dir
    shutil.copytree(versions / "v0001", versions / "v0090")
    meta = json.loads((versions / "v0090" / "meta.json").read_text())
    meta.update(id="v0090", base_sha256="0" * 64, model_name="some-other-model")
    (versions / "v0090" / "meta.json").write_text(json.dumps(meta))
    refused = api(person.hub, "POST", "/v1/personalization/adapters/v0090/promote")
    assert refused.status_code == 409
    assert "another base model" in refused.json()["error"]["message"]
    missing = api(person.hub, "POST", "/v1/personalization/adapters/v9999/promote")
    assert missing.status_code == 404
    shutil.rmtree(versions / "v0090")


def test_the_active_adapter_survives_a_restart(person: Person) -> None:
    person.restart()
    assert "pistachio" in ask(person.hub, "What is my dog's name?").lower()


@pytest.mark.timeout(RUN_TEST_TIMEOUT)
def test_an_adapter_trained_on_noise_is_rejected_by_the_gate(person: Person) -> None:
    """Run the training child directly on nonsense answers; the gate must refuse the result."""
    registry = person.registry
    job = registry.new_job_dir()
    real = registry.versions_dir / "v0001"
    rng = random.Random(7)
    letters = "qwxzjkvbp"
    noise = [
        TrainingExample(
            f"{' '.join(''.join(rng.choices(letters, k=5)) for _ in range(3))}?",
            " ".join("".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(6)),
            "note",
            f"noise-{n}",
        )
        for n in range(8)
    ]
    dataset_dir = job / DATASET_DIR
    dataset_dir.mkdir()
    write_examples(dataset_dir / "train.jsonl", noise)
    held_out_source = api(person.hub, "GET", "/v1/personalization/dataset").json()["held_out"]
    write_examples(dataset_dir / "held_out.jsonl", [TrainingExample(**e) for e in held_out_source])
    summary = {"train_examples": len(noise), "held_out_examples": len(held_out_source)}
    (dataset_dir / "summary.json").write_text(json.dumps(summary))
    JobSpec(
        base_model_path=str(model_path()),
        base_sha256=json.loads((real / "meta.json").read_text())["base_sha256"],
        model_name="smollm2-135m-instruct",
        threads=2,
        base_cache_dir=os.environ["HUB_PERSONALIZE_BASE_CACHE_DIR"],
        train=TrainConfig(max_steps=4, epochs=100, learning_rate=1e-3, checkpoint_every_steps=50),
    ).write(job)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "adapters.train", str(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    version = registry.register(job)
    assert version.passed_gate is False
    assert any("not better" in r or "too much worse" in r for r in version.decision["reasons"])
    assert version.metrics["candidate"]["answered"] <= version.metrics["current"]["answered"]
    listed = api(person.hub, "GET", "/v1/personalization/adapters").json()["data"]
    assert [(v["id"], v["active"], v["passed_gate"]) for v in listed] == [
        (version.id, False, False),
        ("v0001", True, True),
    ]


def run_cli(person: Person, *args: str) -> str:
    env = {**os.environ, "HUB_PORT": person.hub.base_url.rsplit(":", 1)[1]}
    done = subprocess.run(
        [sys.executable, "-m", "hub", "personalize", *args, "--data-dir", str(person.hub.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_cli_lists_reports_and_shows_the_dataset(person: Person) -> None:
    listed = run_cli(person, "list")
    assert "v0001" in listed and "passed" in listed and "rejected" in listed
    assert "held-out questions (before: " in listed and "now answers: " in listed
    assert "active adapter: v0001" in run_cli(person, "status")
    shown = run_cli(person, "dataset", "--show")
    assert "Pistachio" in shown and "held out" in shown
    skipped = run_cli(person, "run")  # nothing new since the last run
    assert "skipped" in skipped and "--force" in skipped


# Parity: the same greedy tokens from llama.cpp (quantized base + our GGUF adapter) and from
# transformers (the same file dequantized + the peft adapter). The prompts are the person's
# trained questions and the outputs are short (up to 10 tokens, stopping at the end-of-turn
# token): there the adapter makes the next token clear-cut, so the two runtimes' different
# arithmetic (llama.cpp multiplies with quantized activations) cannot flip an argmax, while on
# long or untrained continuations near-ties make tokens drift apart for reasons that are not
# the adapter's.
PARITY_PROMPTS = [*QUESTIONS, "Do you know what my dog's name is?"]


def test_gguf_adapter_in_llama_cpp_matches_peft_adapter_in_transformers(
    person: Person, tmp_path: Path
) -> None:
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from adapters.base_cache import load_base_cached
    from adapters.base_model import file_sha256
    from adapters.chat_format import prompt_text
    from adapters.export_gguf import LoraShape, write_gguf_lora
    from adapters.trainer import add_lora, load_lora_state

    version_dir = person.registry.versions_dir / "v0001"
    settings = json.loads((version_dir / "lora_config.json").read_text())
    gguf_path = model_path()
    copies = Path(os.environ["HUB_PERSONALIZE_BASE_CACHE_DIR"])  # bit for bit the GGUF's weights
    base = load_base_cached(gguf_path, file_sha256(gguf_path), 2, copies)
    model = add_lora(base.model, TrainConfig(rank=settings["rank"], alpha=settings["alpha"]))
    state = load_file(str(version_dir / "lora.safetensors"))
    load_lora_state(model, state)
    model.eval()
    tokenizer = base.tokenizer
    prompts = [list(tokenizer(prompt_text(tokenizer, p))["input_ids"]) for p in PARITY_PROMPTS]

    def transformers_tokens() -> list[list[int]]:
        found = []
        for ids in prompts:
            with torch.no_grad():
                out = model.generate(
                    torch.tensor([ids]),
                    max_new_tokens=PARITY_TOKENS,
                    do_sample=False,
                    repetition_penalty=1.0,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            found.append(out[0, len(ids) :].tolist())
        return found

    def transformers_logprobs(sequence: list[int], start: int) -> Any:
        with torch.no_grad():
            logits = model(torch.tensor([sequence])).logits[0, start - 1 :]
        return torch.log_softmax(logits.double(), -1).numpy()

    peft_tokens = transformers_tokens()
    assert "Pistachio" in tokenizer.decode(peft_tokens[0])
    served_tokens = llama_cpp_tokens(gguf_path, version_dir / "adapter.gguf", prompts)
    assert "Pistachio" in tokenizer.decode(served_tokens[0])
    # Along transformers' whole greedy answer, llama.cpp with the exported adapter predicts the
    # same next-token distributions; without the adapter it predicts others. (The same greedy
    # tokens would be a brittle check: where two tokens are near-tied, float noise between the two
    # engines picks either and the answers part; log-probabilities of unlikely tokens differ by
    # up to a nat between the engines even when the distributions agree.)
    answers = [ids + tokens for ids, tokens in zip(prompts, peft_tokens, strict=True)]
    starts = [len(ids) for ids in prompts]
    along = [transformers_logprobs(seq, start) for seq, start in zip(answers, starts, strict=True)]
    adapted = llama_cpp_logprobs(gguf_path, version_dir / "adapter.gguf", answers, starts)
    unadapted = llama_cpp_logprobs(gguf_path, None, answers, starts)
    served = [total_variations(h, w) for h, w in zip(adapted, along, strict=True)]
    unserved = [total_variations(h, w) for h, w in zip(unadapted, along, strict=True)]
    # On average over an answer: within 0.05 (measured 0.001 to 0.02) against 0.3 or more without
    # the adapter (measured 0.4 to 0.6); at no single position further than 0.25 (measured 0.1).
    assert max(sum(d) / len(d) for d in served) < 0.05, served
    assert min(sum(d) / len(d) for d in unserved) > 0.3, unserved
    assert max(max(d) for d in served) < 0.25, served
    # Control 1: the adapter is what makes these tokens (without it they differ everywhere).
    bare = llama_cpp_tokens(gguf_path, None, prompts)
    assert all(a != b for a, b in zip(bare, peft_tokens, strict=True))

    # Control 2: the q/k row permutation matters. With only the q and k parts of the adapter
    # (the rest zeroed on both sides), compare the next-token log-probabilities at the answer's
    # first position (over transformers' top 20 tokens): the permuted export stays close to
    # transformers, an export without the permutation is off by about the adapter's whole effect.
    # (Tokens would be a weaker check here: q and k alone leave near-ties that noise can flip.)
    # Measured with the nightly run's rate of 1e-3: near 0.28-0.37 nats, far 1.09-1.73; the
    # engines' noise grows with the adapter, so "near" is held to half of "far", not a third.
    only_qk = {
        name: value if ("q_proj" in name or "k_proj" in name) else torch.zeros_like(value)
        for name, value in state.items()
    }
    load_lora_state(model, only_qk)
    shape = LoraShape("llama", base.num_heads, base.num_kv_heads, float(settings["alpha"]))
    arrays = {name: value.numpy().astype(np.float32) for name, value in only_qk.items()}
    permuted = write_gguf_lora(tmp_path / "qk.gguf", arrays, shape, "test")
    unpermuted = write_gguf_lora(tmp_path / "qk-raw.gguf", arrays, shape, "test", permute_qk=False)
    expected = []
    for ids in prompts:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        expected.append(torch.log_softmax(logits.double(), -1).numpy())
    near = [
        top_logprob_gap(have, [want])
        for have, want in zip(
            llama_cpp_logprobs(gguf_path, permuted, prompts, starts), expected, strict=True
        )
    ]
    far = [
        top_logprob_gap(have, [want])
        for have, want in zip(
            llama_cpp_logprobs(gguf_path, unpermuted, prompts, starts), expected, strict=True
        )
    ]
    assert max(near) < min(far) / 2, (near, far)
