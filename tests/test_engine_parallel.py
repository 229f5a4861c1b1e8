"""Several generations in one batch of the real packaged model, served from its child process:
the same greedy answers as alone, grammars beside plain requests, cancel frees a slot at once,
and a conversation's second turn reuses its slot's cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from hub.engine.llama_model import LlamaCppModel
from hub.engine.model_process import ModelSpec
from hub.engine.parallel_process import ParallelModelProcess
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.catalog import ModelCatalog
from tests.conftest import DEFAULT_MODEL

pytestmark = pytest.mark.slow  # a real model in every test

SLOTS = 4
GREEDY = SamplingParams(max_tokens=32, temperature=0.0, top_k=1)
QUESTIONS = (
    "Name three colours of the rainbow.",
    "What is two plus two?",
    "Write a short poem about rain.",
    "Who wrote Hamlet?",
)
DIGITS = 'root ::= "{" "\\"answer\\"" ":" [0-9]+ "}"'


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    catalog = ModelCatalog(tmp_path_factory.mktemp("catalog"))
    path, info = catalog.path_for(DEFAULT_MODEL), catalog.info(DEFAULT_MODEL)
    return ModelSpec(DEFAULT_MODEL, path, info, 1024, 2)


@pytest.fixture(scope="module")
def model(spec: ModelSpec) -> Iterator[ParallelModelProcess]:
    served = ParallelModelProcess(spec, SLOTS)
    yield served
    served.close()


def ask(
    model: ParallelModelProcess, question: str, params: SamplingParams = GREEDY
) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    prompt = model.render_chat([ChatMessage("user", question)])
    return "".join(model.generate(prompt, params, stats, lambda: False)), stats


def together(
    model: ParallelModelProcess, asks: list[tuple[str, SamplingParams]]
) -> list[tuple[str, GenerationStats]]:
    """Run every request at once, each from a thread of its own (as the runner does)."""
    results: list[tuple[str, GenerationStats] | None] = [None] * len(asks)
    start = threading.Barrier(len(asks))

    def run(index: int) -> None:
        start.wait()
        results[index] = ask(model, *asks[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(asks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def test_a_request_alone_is_answered_as_by_the_one_at_a_time_path(
    spec: ModelSpec, model: ParallelModelProcess
) -> None:
    local = LlamaCppModel(spec.name, spec.path, spec.info, spec.context_length, spec.threads)
    try:
        prompt = local.render_chat([ChatMessage("user", QUESTIONS[2])])
        long = SamplingParams(max_tokens=96, temperature=0.0, top_k=1)
        expected = "".join(local.generate(prompt, long, GenerationStats(), lambda: False))
    finally:
        local.close()
    assert ask(model, QUESTIONS[2], long)[0] == expected


@pytest.mark.parametrize("streams", [2, 4])
def test_concurrent_streams_answer_exactly_as_each_alone(
    model: ParallelModelProcess, streams: int
) -> None:
    alone = [ask(model, question)[0] for question in QUESTIONS[:streams]]
    answers = together(model, [(question, GREEDY) for question in QUESTIONS[:streams]])
    assert [text for text, _ in answers] == alone
    assert all(text.strip() for text in alone)
    assert all(stats.completion_tokens > 0 for _, stats in answers)


def test_a_grammar_and_plain_requests_share_a_batch(model: ParallelModelProcess) -> None:
    plain = ask(model, QUESTIONS[1])[0]
    constrained = SamplingParams(max_tokens=24, temperature=0.0, top_k=1, grammar=DIGITS)
    (json_text, json_stats), (plain_text, _) = together(
        model, [("How old is the moon? Answer in JSON.", constrained), (QUESTIONS[1], GREEDY)]
    )
    assert plain_text == plain
    if json_stats.finish_reason == "stop":
        assert isinstance(json.loads(json_text)["answer"], int)
    else:  # the budget ran out inside the digits: what came is still the grammar's start
        assert json_text.startswith('{"answer":')


def test_a_bad_grammar_is_a_clear_error(model: ParallelModelProcess) -> None:
    bad = SamplingParams(max_tokens=4, temperature=0.0, grammar="root ::= (")
    with pytest.raises(ValueError, match="grammar"):
        ask(model, QUESTIONS[0], bad)
    assert ask(model, QUESTIONS[1])[0].strip()  # the model still serves


def test_a_cancelled_stream_frees_its_slot_at_once(model: ParallelModelProcess) -> None:
    long = SamplingParams(max_tokens=400, temperature=0.0, top_k=1)
    cancel = threading.Event()
    stopped = GenerationStats()
    prompt = model.render_chat([ChatMessage("user", "Tell me a very long story.")])
    pieces = model.generate(prompt, long, stopped, cancel.is_set)
    first = next(pieces)
    # Every other slot fills with long answers that keep running.
    others = [
        model.generate(prompt, long, GenerationStats(), lambda: False) for _ in range(SLOTS - 1)
    ]
    for other in others:
        next(other)
    cancel.set()
    rest = list(pieces)
    assert first and stopped.finish_reason == "cancelled" and not rest
    assert stopped.completion_tokens < long.max_tokens
    # With the others still running, a new request gets the freed slot and completes.
    text, stats = ask(model, QUESTIONS[3])
    assert text.strip() and stats.finish_reason in ("stop", "length")
    for other in others:
        other.close()  # the caller stops reading: the child ends those too


def test_a_second_turn_reuses_its_conversations_cache_across_interleaving(
    model: ParallelModelProcess,
) -> None:
    first = [ChatMessage("user", "My cat is called Miso. Say hello to her.")]
    stats_one = GenerationStats()
    prompt_one = model.render_chat(first)
    answer = "".join(model.generate(prompt_one, GREEDY, stats_one, lambda: False))
    # Another conversation in between, as a phone and the earbuds would interleave.
    ask(model, "Describe the sea in one sentence.")
    second = [*first, ChatMessage("assistant", answer), ChatMessage("user", "What is her name?")]
    stats_two = GenerationStats()
    prompt_two = model.render_chat(second)
    "".join(model.generate(prompt_two, GREEDY, stats_two, lambda: False))
    assert stats_two.cached_prompt_tokens >= len(prompt_one.tokens)
    assert stats_two.prompt_tokens - stats_two.cached_prompt_tokens < len(prompt_one.tokens)


def test_metrics_see_the_slots(model: ParallelModelProcess) -> None:
    ask(model, QUESTIONS[0])
    assert model.load.slots == SLOTS
    assert 0 <= model.load.slots_in_use <= SLOTS


def test_a_new_conversation_reuses_a_shared_system_prompt_and_answers_the_same(
    spec: ModelSpec, model: ParallelModelProcess
) -> None:
    system = ChatMessage(
        "system",
        "You are a careful assistant for a family. Answer in one short sentence, politely, "
        "without lists, and say so when you do not know.",
    )
    ask_with = [[system, ChatMessage("user", question)] for question in QUESTIONS[2:4]]
    # A long first answer: the shared part is under half of that slot's cache, so the other
    # conversation gets a slot of its own and that one keeps its history.
    long = SamplingParams(max_tokens=160, temperature=0.0, top_k=1)
    first = GenerationStats()
    "".join(model.generate(model.render_chat(ask_with[0]), long, first, lambda: False))
    prompt = model.render_chat(ask_with[1])
    stats = GenerationStats()
    answer = "".join(model.generate(prompt, GREEDY, stats, lambda: False))
    shared = 0
    for a, b in zip(model.render_chat(ask_with[0]).tokens, prompt.tokens, strict=False):
        if a != b:
            break
        shared += 1
    # The system prompt came from the other conversation's slot, not evaluated again ...
    assert stats.cached_prompt_tokens >= shared > 20
    # ... and the answer is the one the one-at-a-time path gives.
    local = LlamaCppModel(spec.name, spec.path, spec.info, spec.context_length, spec.threads)
    try:
        expected = "".join(local.generate(prompt, GREEDY, GenerationStats(), lambda: False))
    finally:
        local.close()
    assert answer == expected
