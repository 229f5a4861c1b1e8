"""The batch engine serves with a LoRA adapter, swapped only while no request runs (llama.cpp
applies an adapter to the whole context), on Gemma 3 270M: a sliding-window model, whose cache
cannot always be cut at any position, so it also covers a slot started over from empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.export_gguf import LoraShape, write_gguf_lora
from hub.engine.batch_engine import BatchEngine
from hub.engine.llama_model import LlamaCppModel
from hub.engine.types import SamplingParams
from hub.models.gguf_info import read_gguf_info
from hub.models.packaged import locate_gemma3
from tests.test_personalization_engine import RANK, peft_state_for

pytestmark = pytest.mark.slow  # a real model

GREEDY = SamplingParams(max_tokens=4, temperature=0.0, top_k=1)


def test_the_adapter_changes_every_slots_answer_and_swaps_only_between_batches(
    tmp_path: Path,
) -> None:
    gemma = locate_gemma3(tmp_path / "models")
    info = read_gguf_info(gemma)
    strong = write_gguf_lora(
        tmp_path / "strong.gguf",
        peft_state_for(gemma, 0.2),
        LoraShape("gemma3", 4, 1, float(2 * RANK)),
        "x",
    )
    model = LlamaCppModel("gemma3-270m", gemma, info, 512, 2, own_context=256)
    replies: dict[int, list[str]] = {}

    def emit(message: tuple[Any, ...]) -> None:
        if message[0] == "piece":
            replies.setdefault(message[1], []).append(message[2])
        elif message[0] == "pieces":
            for request, text in message[1]:
                replies.setdefault(request, []).append(text)
        elif message[0] == "error":
            raise AssertionError(message)

    engine = BatchEngine(model, 2, 2, emit)
    prompts = [model.render_text("The capital of France is"), model.render_text("One, two,")]
    rid = iter(range(1, 100))

    def both() -> list[str]:
        ids = [next(rid) for _ in prompts]
        for request, prompt in zip(ids, prompts, strict=True):
            engine.submit(request, prompt, GREEDY, 1)
        while engine.busy:
            engine.step()
        return ["".join(replies.get(request, [])) for request in ids]

    try:
        base = both()
        engine.submit(next(rid), prompts[0], GREEDY, 1)
        with pytest.raises(RuntimeError, match="between requests"):
            engine.set_adapter(strong)
        while engine.busy:
            engine.step()
        engine.set_adapter(strong)
        changed = both()
        assert changed[0] != base[0]
        engine.set_adapter(None)
        assert both() == base
    finally:
        engine.close()
        model.close()
