"""The scheduler: one generation at a time, a bounded queue, cancellation, switching."""

from __future__ import annotations

import asyncio

import pytest

from hub.engine.runner import ModelRunner, QueueFullError
from hub.engine.types import Prompt, SamplingParams
from tests.fakes import FakeChatModel


def prepare(model: FakeChatModel) -> tuple[Prompt, SamplingParams]:
    return model.render_text("hello there"), SamplingParams(max_tokens=10)


def make_runner(max_queue: int = 1, **models: FakeChatModel) -> ModelRunner:
    pool = models or {"fake": FakeChatModel()}
    return ModelRunner(lambda name: pool[name], next(iter(pool)), max_queue=max_queue)


async def read_all(generation) -> str:  # type: ignore[no-untyped-def]
    return "".join([piece async for piece in generation])


def test_generation_streams_the_reply_and_fills_stats() -> None:
    async def scenario() -> None:
        runner = make_runner()
        generation = await runner.start(None, prepare)  # type: ignore[arg-type]
        assert await read_all(generation) == "a b c d"
        await generation.wait_finished()
        assert generation.stats.prompt_tokens == 2
        assert generation.stats.completion_tokens == 4
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_requests_past_the_queue_bound_are_refused_with_a_retry_hint() -> None:
    async def scenario() -> None:
        model = FakeChatModel()
        runner = make_runner(max_queue=1, fake=model)
        model.gate.clear()
        first = await runner.start(None, prepare)  # type: ignore[arg-type]
        waiting = asyncio.create_task(runner.start(None, prepare))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert runner.queue_depth == 1
        with pytest.raises(QueueFullError) as refused:
            await runner.start(None, prepare)  # type: ignore[arg-type]
        assert refused.value.retry_after >= 1
        model.gate.set()
        assert await read_all(first) == "a b c d"
        second = await waiting
        assert await read_all(second) == "a b c d"
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_cancel_frees_the_model_for_the_next_request() -> None:
    async def scenario() -> None:
        # 1000 tokens take 5 s, so the client's leaving certainly comes first.
        model = FakeChatModel(reply="w " * 1000, seconds_per_token=0.005)
        runner = make_runner(fake=model)
        first = await runner.start(
            None, lambda m: (m.render_text("x"), SamplingParams(max_tokens=1000))
        )
        pieces = first.__aiter__()
        await anext(pieces)
        await pieces.aclose()  # type: ignore[attr-defined]  # the client leaves after one piece
        second = await runner.start(None, prepare)  # type: ignore[arg-type]
        assert (await read_all(second)).startswith("w")
        await first.wait_finished()
        assert first.stats.finish_reason == "cancelled"
        assert first.stats.completion_tokens < 1000
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_unread_generation_never_wedges_the_model() -> None:
    async def scenario() -> None:
        runner = make_runner()
        await runner.start(None, prepare)  # type: ignore[arg-type]  # never read
        second = await runner.start(None, prepare)  # type: ignore[arg-type]
        assert await read_all(second) == "a b c d"
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_failing_prepare_releases_the_model() -> None:
    async def scenario() -> None:
        runner = make_runner()

        def broken(model: FakeChatModel) -> tuple[Prompt, SamplingParams]:
            raise ValueError("bad prompt")

        with pytest.raises(ValueError, match="bad prompt"):
            await runner.start(None, broken)  # type: ignore[arg-type]
        assert await read_all(await runner.start(None, prepare)) == "a b c d"  # type: ignore[arg-type]
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_switching_waits_for_the_running_answer_and_evicts_old_models() -> None:
    async def scenario() -> None:
        one, two, three = FakeChatModel("one"), FakeChatModel("two"), FakeChatModel("three")
        runner = ModelRunner(
            {"one": one, "two": two, "three": three}.__getitem__, "one", max_queue=4, max_loaded=2
        )
        one.gate.clear()
        running = await runner.start(None, prepare)  # type: ignore[arg-type]
        switch = asyncio.create_task(runner.use("two"))
        await asyncio.sleep(0.05)
        assert not switch.done(), "a switch must not interrupt a running answer"
        one.gate.set()
        assert await read_all(running) == "a b c d"
        await switch
        assert runner.active == "two"
        await runner.use("three")
        assert runner.loaded_models() == ["two", "three"]
        assert one.closed
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_background_work_waits_while_an_answer_runs_or_requests_queue() -> None:
    async def scenario() -> None:
        model = FakeChatModel()
        runner = make_runner(max_queue=2, fake=model)
        assert not runner.activity.busy
        model.gate.clear()
        first = await runner.start(None, prepare)  # type: ignore[arg-type]
        queued = asyncio.create_task(runner.start(None, prepare))  # type: ignore[arg-type]
        background = asyncio.create_task(runner.activity.wait_idle())
        await asyncio.sleep(0.05)
        assert runner.activity.busy and not background.done()
        model.gate.set()
        assert await read_all(first) == "a b c d"
        second = await queued
        assert await read_all(second) == "a b c d"
        await second.wait_finished()
        assert await background is True
        assert not runner.activity.busy

        def broken(model: FakeChatModel) -> tuple[Prompt, SamplingParams]:
            raise ValueError("bad prompt")

        with pytest.raises(ValueError, match="bad prompt"):
            await runner.start(None, broken)  # type: ignore[arg-type]
        assert not runner.activity.busy  # a request that failed to start lets go too
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


class UnloadAware(FakeChatModel):
    """A fake that fails its answer when it is unloaded while answering."""

    def generate(self, prompt, params, stats, cancelled):  # type: ignore[no-untyped-def]
        for piece in super().generate(prompt, params, stats, cancelled):
            if self.closed:
                raise RuntimeError(f"model {self.name} was unloaded mid-answer")
            yield piece


def test_a_model_answering_is_never_unloaded_by_another_requests_load() -> None:
    # Several slots, one model kept in memory: a request for a model unloaded since it looked
    # loads it again beside another request's model; neither is unloaded while it answers.
    loads: dict[str, list[UnloadAware]] = {}

    def load(name: str) -> UnloadAware:
        model = UnloadAware(name)
        loads.setdefault(name, []).append(model)
        return model

    async def scenario() -> None:
        runner = ModelRunner(load, "a", max_queue=4, max_loaded=1, slots=2)
        await runner.start_serving("a")
        first = loads["a"][0]
        first.gate.clear()
        running = await runner.start("a", prepare)  # type: ignore[arg-type]
        await asyncio.to_thread(first.started.wait, 10)
        wants_b = asyncio.create_task(runner.start("b", prepare))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # b waits for every slot to be free, to load alone
        wants_a = asyncio.create_task(runner.start("a", prepare))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # a is loaded (for now): it waits for a slot only
        first.gate.set()
        assert await read_all(running) == "a b c d"
        # b's load unloads a; then both requests take slots, and a is loaded again.
        answers = await asyncio.gather(wants_a, wants_b)
        texts = await asyncio.gather(*(read_all(answer) for answer in answers))
        assert texts == ["a b c d", "a b c d"]
        for answer in answers:
            await answer.wait_finished()
        assert len(loads["a"]) == 2 and len(runner.loaded_models()) == 1
        await runner.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
