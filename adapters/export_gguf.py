"""Write a peft LoRA adapter as a GGUF LoRA file that llama.cpp loads beside the quantized base."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from adapters.base_model import SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError
from memory.durable_files import replace_durably

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# transformers module name -> GGUF tensor name, the same for llama and gemma3.
_MODULE_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_PEFT_NAME = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")
BASE_SHA256_KEY = "adapter.walking_nas.base_sha256"


@dataclass(frozen=True)
class LoraShape:
    """What the export needs to know about the base model and the LoRA settings."""

    architecture: str
    num_heads: int
    num_kv_heads: int
    alpha: float


def permute_rows_for_gguf(weights: FloatArray, heads: int) -> FloatArray:
    """Reorder output rows as llama's HF-to-GGUF conversion does for q and k: within each head,
    the two rotary halves are interleaved (llama.cpp rotates adjacent pairs, HF rotates halves)."""
    rows = weights.shape[0]
    grouped = weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
    return np.ascontiguousarray(grouped.swapaxes(1, 2).reshape(weights.shape))


def gguf_tensor_name(peft_name: str) -> tuple[str, str, str]:
    """Map a peft state-dict name to (GGUF base tensor name, module, 'a' or 'b')."""
    found = _PEFT_NAME.search(peft_name)
    if found is None or found.group(2) not in _MODULE_TO_GGUF:
        raise ValueError(f"cannot map LoRA tensor {peft_name!r} to a GGUF tensor")
    layer, module, side = found.groups()
    return f"blk.{layer}.{_MODULE_TO_GGUF[module]}.weight", module, side.lower()


def gguf_lora_tensors(
    state: Mapping[str, FloatArray], shape: LoraShape, permute_qk: bool = True
) -> dict[str, FloatArray]:
    """The adapter's tensors under llama.cpp's names, with llama's q/k rows permuted."""
    if shape.architecture not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"no LoRA export for architecture {shape.architecture!r}; "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    tensors: dict[str, FloatArray] = {}
    for name, value in state.items():
        base, module, side = gguf_tensor_name(name)
        array = np.asarray(value, dtype=np.float32)
        # lora_b's rows are the base weight's rows, so it gets the base weight's permutation;
        # lora_a works on the input side, which the conversion leaves alone.
        if permute_qk and side == "b" and shape.architecture == "llama":
            if module == "self_attn.q_proj":
                array = permute_rows_for_gguf(array, shape.num_heads)
            elif module == "self_attn.k_proj":
                array = permute_rows_for_gguf(array, shape.num_kv_heads)
        tensors[f"{base}.lora_{side}"] = np.ascontiguousarray(array)
    return tensors


def write_gguf_lora(
    path: Path,
    state: Mapping[str, FloatArray],
    shape: LoraShape,
    base_sha256: str,
    permute_qk: bool = True,
) -> Path:
    """Write the GGUF LoRA file at ``path`` (through a temporary file, so it appears whole)."""
    import gguf

    tensors = gguf_lora_tensors(state, shape, permute_qk)
    partial = path.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(partial), shape.architecture)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(shape.alpha))
    writer.add_string(BASE_SHA256_KEY, base_sha256)
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    replace_durably(partial, path)
    logger.info("wrote %d LoRA tensors to %s", len(tensors), path)
    return path
