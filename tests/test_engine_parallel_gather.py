"""Requests sent together are read in one step: the runner counts the requests still preparing
and tells the model's child, which waits for them only while nothing generates."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from hub.engine.parallel_process import GATHER_S, Newcomers
from hub.engine.runner import ModelRunner
from hub.engine.starting_requests import StartingRequests
from hub.engine.types import GenerationStats, Prompt, SamplingParams
from tests.fakes import FakeChatModel


def test_a_request_counts_only_the_others_as_urgent_or_more_still_starting() -> None:
    starting = StartingRequests()
    for priority in ("background", "chat", "chat", "voice"):
        starting.begin(priority)
    assert starting.end("voice") == 0  # people never wait for background work, nor for chats
    assert starting.end("chat") == 1  # the other chat
    assert starting.end("background") == 1  # the last chat is still on its way
    assert starting.end("chat") == 0
    assert starting.end("chat") == 0  # never below zero


def test_the_child_waits_for_announced_requests_only_while_nothing_generates() -> None:
    newcomers = Newcomers()
    assert newcomers.wait_left(generating=False, now=0.0) == 0.0  # nobody announced
    newcomers.arrived(2, now=10.0)
    assert newcomers.wait_left(generating=False, now=10.0) == pytest.approx(GATHER_S)
    assert newcomers.wait_left(generating=True, now=10.0) == 0.0  # running answers never wait
    newcomers.arrived(1, now=10.01)  # the deadline stays the first one's
    assert newcomers.wait_left(generating=False, now=10.01) == pytest.approx(GATHER_S - 0.01)
    newcomers.arrived(0, now=10.02)
    assert newcomers.wait_left(generating=False, now=10.02) == 0.0
    newcomers.arrived(3, now=20.0)
    assert newcomers.wait_left(generating=False, now=20.0 + GATHER_S) == 0.0  # gave up
    assert newcomers.awaited == 0


class CountingModel(FakeChatModel):
    """A prioritized fake that notes how many companions each generation was told of."""

    slots = 3

    def __init__(self) -> None:
        super().__init__(reply="a b")
        self.companions: list[int] = []

    def generate(  # type: ignore[override]
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
        priority: str = "chat",
        companions: int = 0,
    ) -> Iterator[str]:
        self.companions.append(companions)
        return super().generate(prompt, params, stats, cancelled)


def test_requests_started_together_tell_the_model_how_many_follow() -> None:
    model = CountingModel()
    together = threading.Barrier(3)  # every prompt is being prepared before any starts

    def prepare(served: object) -> tuple[Prompt, SamplingParams]:
        together.wait(10)
        return Prompt([1, 2]), SamplingParams(max_tokens=2, temperature=0.0)

    async def scenario() -> None:
        runner = ModelRunner(lambda name: model, "fake", max_queue=3, slots=3)
        await runner.use("fake")
        generations = await asyncio.gather(*(runner.start(None, prepare) for _ in range(3)))
        for generation in generations:
            assert "".join([piece async for piece in generation]) == "a b"
            await generation.wait_finished()
        alone = await runner.start(None, lambda served: (Prompt([1]), SamplingParams(max_tokens=1)))
        assert [piece async for piece in alone] == ["a"]
        await alone.wait_finished()
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sorted(model.companions[:3]) == [0, 1, 2]
    assert model.companions[3] == 0  # a request alone never makes the child wait
