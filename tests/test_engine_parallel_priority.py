"""Who gets the model's next slot: voice before chat before background, a slot kept for people,
loads and adapter swaps between batches; then the same through the runner with the real model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hub.engine.chat_model import ChatModel
from hub.engine.model_process import ModelSpec
from hub.engine.parallel_process import ParallelModelProcess
from hub.engine.runner import Generation, ModelRunner, QueueFullError
from hub.engine.slot_gate import Priority, SlotGate
from hub.engine.types import ChatMessage, Prompt, SamplingParams
from hub.metrics import HubMetrics
from hub.models.catalog import ModelCatalog
from tests.conftest import DEFAULT_MODEL


def test_background_work_never_takes_the_slot_kept_for_people() -> None:
    async def scenario() -> None:
        gate = SlotGate(2, reserved=1)
        assert gate.try_acquire("background")
        assert not gate.try_acquire("background")  # the last free slot is a person's
        assert gate.try_acquire("voice")
        assert gate.in_use == 2

    asyncio.run(scenario())


def test_a_freed_slot_goes_to_voice_then_chat_then_background() -> None:
    async def scenario() -> None:
        gate = SlotGate(2, reserved=1)
        assert gate.try_acquire("chat") and gate.try_acquire("chat")
        granted: list[str] = []

        async def wait(priority: Priority, name: str) -> None:
            await gate.acquire(priority)
            granted.append(name)

        # They arrive in the opposite order of their priority.
        tasks = [
            asyncio.create_task(wait(priority, priority))
            for priority in ("background", "chat", "voice")
        ]
        await asyncio.sleep(0)
        assert gate.waiting() == 3 and gate.waiting("voice") == 1
        gate.release()
        await asyncio.sleep(0)
        assert granted == ["voice"]
        gate.release()
        await asyncio.sleep(0)
        assert granted == ["voice", "chat"]
        gate.release()  # one slot free, but it is kept for people: background still waits
        await asyncio.sleep(0)
        assert granted == ["voice", "chat"]
        gate.release()
        await asyncio.gather(*tasks)
        assert granted == ["voice", "chat", "background"]

    asyncio.run(scenario())


def test_a_swap_waits_for_every_slot_and_holds_new_requests_back() -> None:
    async def scenario() -> None:
        gate = SlotGate(3)
        assert gate.try_acquire("chat")
        order: list[str] = []

        async def swap() -> None:
            async with gate.exclusive():
                order.append("swap")

        async def chat() -> None:
            await gate.acquire("chat")
            order.append("chat")

        swapping = asyncio.create_task(swap())
        await asyncio.sleep(0)
        chatting = asyncio.create_task(chat())
        await asyncio.sleep(0)
        assert order == []  # a slot is free, but the swap came first
        gate.release()
        await asyncio.gather(swapping, chatting)
        assert order == ["swap", "chat"]

    asyncio.run(scenario())


def test_a_cancelled_wait_gives_its_place_back() -> None:
    async def scenario() -> None:
        gate = SlotGate(2, reserved=1)
        assert gate.try_acquire("chat") and gate.try_acquire("chat")
        waiting = asyncio.create_task(gate.acquire("voice"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert gate.waiting() == 0
        gate.release()
        assert gate.in_use == 1

    asyncio.run(scenario())


SLOTS = 2
LONG = SamplingParams(max_tokens=200, temperature=0.0, top_k=1)
SHORT = SamplingParams(max_tokens=8, temperature=0.0, top_k=1)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    catalog = ModelCatalog(tmp_path_factory.mktemp("catalog"))
    path, info = catalog.path_for(DEFAULT_MODEL), catalog.info(DEFAULT_MODEL)
    return ModelSpec(DEFAULT_MODEL, path, info, 1024, 2)


@pytest.fixture(scope="module")
def served(spec: ModelSpec) -> Iterator[ParallelModelProcess]:
    model = ParallelModelProcess(spec, SLOTS)
    yield model
    model.close()


def preparing(text: str, params: SamplingParams):  # type: ignore[no-untyped-def]
    def prepare(model: ChatModel) -> tuple[Prompt, SamplingParams]:
        return model.render_chat([ChatMessage("user", text)]), params

    return prepare


@pytest.mark.slow
def test_the_runner_serves_people_first_and_counts_slots_for_metrics(
    served: ParallelModelProcess,
) -> None:
    async def scenario() -> None:
        runner = ModelRunner(lambda name: served, DEFAULT_MODEL, max_queue=3, slots=SLOTS)
        metrics = HubMetrics(lambda: runner.queue_depth, lambda: runner.busy, runner.engine_load)
        await runner.start_serving(DEFAULT_MODEL)
        story = preparing("Tell me a very long story.", LONG)
        background = await runner.start(None, story, "background")
        chat = await runner.start(None, story, "chat")  # the slot kept for people
        assert runner.slots_in_use == 2
        started: list[str] = []

        async def ask(priority: Priority) -> Generation:
            generation = await runner.start(None, preparing("Say hi.", SHORT), priority)
            started.append(priority)
            return generation

        waiting = [asyncio.create_task(ask(p)) for p in ("background", "chat", "voice")]
        while runner.queue_depth < 3:
            await asyncio.sleep(0.01)
        with pytest.raises(QueueFullError):
            await runner.start(None, story, "chat")
        text = metrics.render().decode()
        assert 'hub_queue_depth_by_priority{priority="voice"} 1.0' in text
        assert "hub_model_slots_in_use 2.0" in text
        chat.cancel()  # frees its slot at once: voice goes first
        await chat.wait_finished()
        voice = await waiting[2]
        assert started == ["voice"]
        background.cancel()
        await background.wait_finished()
        assert "".join([p async for p in voice]).strip()
        await voice.wait_finished()
        rest = await asyncio.gather(waiting[1], waiting[0])
        assert started == ["voice", "chat", "background"]
        for generation in rest:
            assert "".join([p async for p in generation]).strip()
            await generation.wait_finished()
        assert chat.stats.finish_reason == "cancelled"
        runner._loaded.clear()  # the module's fixture closes the model
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 600))
