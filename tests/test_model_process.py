"""The model served from a child process: same answers as in-process, cancel, crash recovery."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.engine.llama_model import LlamaCppModel
from hub.engine.model_process import ModelProcess, ModelProcessError, ModelSpec
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.catalog import ModelCatalog
from tests.conftest import DEFAULT_MODEL

pytestmark = pytest.mark.slow  # a real model in every test

GREEDY = SamplingParams(max_tokens=24, temperature=0.0, top_k=1)
QUESTION = [ChatMessage("user", "Name three colours of the rainbow.")]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    catalog = ModelCatalog(tmp_path_factory.mktemp("catalog"))
    return ModelSpec(
        DEFAULT_MODEL, catalog.path_for(DEFAULT_MODEL), catalog.info(DEFAULT_MODEL), 1024, 2
    )


@pytest.fixture(scope="module")
def model(spec: ModelSpec) -> Iterator[ModelProcess]:
    served = ModelProcess(spec)
    yield served
    served.close()


def answer(model: ModelProcess | LlamaCppModel, stats: GenerationStats | None = None) -> str:
    prompt = model.render_chat(QUESTION)
    return "".join(model.generate(prompt, GREEDY, stats or GenerationStats(), lambda: False))


def test_the_child_answers_exactly_as_the_model_in_process(
    spec: ModelSpec, model: ModelProcess
) -> None:
    local = LlamaCppModel(spec.name, spec.path, spec.info, spec.context_length, spec.threads)
    try:
        expected = answer(local)
        assert model.render_chat(QUESTION).tokens == local.render_chat(QUESTION).tokens
    finally:
        local.close()
    stats = GenerationStats()
    assert answer(model, stats) == expected and expected.strip()
    assert stats.completion_tokens > 0 and stats.prompt_tokens > 0


def test_a_cancel_stops_the_child_and_leaves_nothing_for_the_next_request(
    model: ModelProcess,
) -> None:
    expected = answer(model)
    pieces: list[str] = []
    stats = GenerationStats()
    long = SamplingParams(max_tokens=200, temperature=0.0, top_k=1)
    for piece in model.generate(model.render_chat(QUESTION), long, stats, lambda: bool(pieces)):
        pieces.append(piece)
    assert len(pieces) == 1 and stats.finish_reason == "cancelled"
    # A caller that stops reading early (a closed generator) leaves no tail either.
    stream = model.generate(model.render_chat(QUESTION), long, GenerationStats(), lambda: False)
    next(stream)
    stream.close()
    assert answer(model) == expected


def test_a_cancel_that_arrives_after_the_answer_finished_is_harmless(
    model: ModelProcess,
) -> None:
    expected = answer(model)
    one_token = SamplingParams(max_tokens=1, temperature=0.0, top_k=1)
    for _ in range(5):  # the child is usually done before the cancel reaches it
        pieces = list(
            model.generate(model.render_chat(QUESTION), one_token, GenerationStats(), lambda: True)
        )
        assert len(pieces) <= 1
        stream = model.generate(
            model.render_chat(QUESTION), one_token, GenerationStats(), lambda: False
        )
        next(stream, None)
        stream.close()
    assert model.render_text("still answering").tokens
    assert answer(model) == expected


def test_a_crashed_child_fails_one_request_and_the_next_one_starts_it_again(
    model: ModelProcess,
) -> None:
    expected = answer(model)
    long = SamplingParams(max_tokens=400, temperature=0.0, top_k=1)
    stream = model.generate(model.render_chat(QUESTION), long, GenerationStats(), lambda: False)
    next(stream)
    os.kill(model._process.pid, signal.SIGKILL)
    with pytest.raises(ModelProcessError, match="died"):
        list(stream)
    assert answer(model) == expected


def test_a_missing_file_is_a_clear_error(spec: ModelSpec, tmp_path: Path) -> None:
    broken = ModelSpec(spec.name, tmp_path / "gone.gguf", spec.info, 512, 1)
    with pytest.raises(ModelProcessError, match="could not load model"):
        ModelProcess(broken)
