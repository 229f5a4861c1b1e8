"""The model child's watchdog: a child that stops answering is killed, the waiting request
fails saying so, and the next request gets a new child (fake children; no llama.cpp)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.engine.model_process import ModelProcess, ModelSpec, ModelStalledError
from hub.engine.runner import ModelRunner
from hub.engine.types import GenerationStats, Prompt, SamplingParams
from hub.models.gguf_info import GgufInfo
from tests.fake_model_child import HANGS_MID_ANSWER, HANGS_ON_LOAD, serve_hanging_model

GENEROUS = 60.0  # for the child to start: never what the test waits for
SHORT = 1.0  # the hang the test waits for: the fake never answers, however long it is given

INFO = GgufInfo("fake", "Fake", 0, "F16", 512, None, None, None)


def spec(name: str) -> ModelSpec:
    return ModelSpec(name, Path("/nonexistent/fake.gguf"), INFO, 512, 1)


def test_a_child_that_hangs_mid_answer_is_killed_and_the_next_request_starts_another() -> None:
    model = ModelProcess(spec(HANGS_MID_ANSWER), GENEROUS, serve_hanging_model)
    try:
        hung = model._process
        model.stall_timeout = SHORT
        stream = model.generate(
            Prompt([1]), SamplingParams(max_tokens=8), GenerationStats(), lambda: False
        )
        assert next(stream) == "Hello"
        with pytest.raises(ModelStalledError, match="HUB_MODEL_STALL_TIMEOUT"):
            next(stream)
        assert not hung.is_alive() and hung.exitcode is not None  # killed, not left behind
        model.stall_timeout = GENEROUS
        assert model.render_text("hi").tokens == [1, 2, 3]  # a new child answers
        assert model._process is not hung
    finally:
        model.close()


def test_a_child_that_hangs_while_loading_fails_the_load() -> None:
    with pytest.raises(ModelStalledError, match="no sign of progress"):
        ModelProcess(spec(HANGS_ON_LOAD), SHORT, serve_hanging_model)


def test_the_request_waiting_on_a_hung_model_gets_an_error_and_the_model_serves_again() -> None:
    def load(name: str) -> ModelProcess:
        return ModelProcess(spec(name), GENEROUS, serve_hanging_model)

    def prepare(model: ModelProcess) -> tuple[Prompt, SamplingParams]:
        model.stall_timeout = SHORT  # after loading: only the answer is given a short leash
        return model.render_text("hi"), SamplingParams(max_tokens=8)

    async def scenario() -> None:
        runner = ModelRunner(load, HANGS_MID_ANSWER, max_queue=2)  # type: ignore[arg-type]
        try:
            for _ in range(2):  # the second request is served by a new child
                generation = await runner.start(None, prepare)  # type: ignore[arg-type]
                pieces = []
                with pytest.raises(ModelStalledError) as stalled:
                    async for piece in generation:
                        pieces.append(piece)
                assert pieces == ["Hello"]
                assert stalled.value.http_status == 503
                await generation.wait_finished()
        finally:
            await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
