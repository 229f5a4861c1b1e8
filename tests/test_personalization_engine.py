"""The engine side of adapters, on Gemma 3 270M (the second packaged architecture): our GGUF LoRA
export is accepted by llama.cpp tensor for tensor, changes the answer, and LlamaCppModel swaps
it in and out between generations. (The llama-family parity with transformers, q/k permutation
included, is proven on SmolLM2 in test_personalization_e2e.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.export_gguf import LoraShape, write_gguf_lora
from hub.engine.llama_model import AdapterLoadError, LlamaCppModel
from hub.engine.types import GenerationStats, SamplingParams
from hub.models.gguf_info import read_gguf_info
from hub.models.packaged import locate_gemma3

pytestmark = pytest.mark.slow  # a real model in every test

_MODULES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
RANK = 4


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return locate_gemma3(tmp_path_factory.mktemp("models"))


def peft_state_for(model_path: Path, scale: float) -> dict[str, np.ndarray]:
    """A seeded LoRA in peft's names and shapes for every projection of the GGUF model."""
    import gguf

    rng = np.random.default_rng(0)
    state: dict[str, np.ndarray] = {}
    for tensor in gguf.GGUFReader(str(model_path)).tensors:
        parts = tensor.name.split(".")
        if len(parts) != 4 or parts[0] != "blk" or parts[2] not in _MODULES:
            continue
        inputs, outputs = (int(n) for n in tensor.shape[:2])  # GGUF lists the input side first
        name = f"base_model.model.model.layers.{parts[1]}.{_MODULES[parts[2]]}"
        state[f"{name}.lora_A.weight"] = rng.normal(0, 0.02, (RANK, inputs)).astype(np.float32)
        state[f"{name}.lora_B.weight"] = rng.normal(0, scale, (outputs, RANK)).astype(np.float32)
    return state


def greedy(model: LlamaCppModel, text: str) -> str:
    stats = GenerationStats()
    params = SamplingParams(max_tokens=4, temperature=0.0, top_k=1)
    return "".join(model.generate(model.render_text(text), params, stats, lambda: False))


def test_gemma3_adapter_loads_changes_answers_and_swaps_out(gemma: Path, tmp_path: Path) -> None:
    info = read_gguf_info(gemma)
    assert info.architecture == "gemma3"
    shape = LoraShape("gemma3", 4, 1, float(2 * RANK))
    strong = write_gguf_lora(tmp_path / "strong.gguf", peft_state_for(gemma, 0.2), shape, "x")
    zero = write_gguf_lora(tmp_path / "zero.gguf", peft_state_for(gemma, 0.0), shape, "x")
    model = LlamaCppModel("gemma3-270m", gemma, info, 512, 2)
    try:
        prompt = "The capital of France is"
        base = greedy(model, prompt)
        model.set_adapter(zero)  # every tensor accepted, and a zero update changes nothing
        assert greedy(model, prompt) == base
        model.set_adapter(strong)
        changed = greedy(model, prompt)
        assert changed != base
        model.set_adapter(None)
        assert greedy(model, prompt) == base
        model.set_adapter(strong)
        assert greedy(model, prompt) == changed
        broken = tmp_path / "broken.gguf"
        broken.write_bytes(b"GGUF" + b"\0" * 64)
        with pytest.raises(AdapterLoadError, match="could not load the LoRA adapter"):
            model.set_adapter(broken)
        assert model.adapter_path == strong  # a refused adapter leaves the served one
    finally:
        model.close()
