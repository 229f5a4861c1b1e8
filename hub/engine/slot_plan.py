"""How many requests the model serves at once, and the context each gets, from this box's memory.

The rule when ``parallel_slots`` is ``auto`` (the default):

1. A slot's context is ``slot_context_length`` when set, else ``context_length``; the model's
   own trained context bounds both. Every request gets as much context as on the one-at-a-time
   path, so nothing a person could do before stops fitting.
2. A slot's KV cache costs, per token of its context, layers x KV heads x (key + value head
   dimensions) x 2 bytes (llama.cpp's f16 cells), read from the GGUF file's metadata: 23,040
   bytes for the packaged SmolLM2 135M (30 x 3 x (64 + 64) x 2), 90 MiB at 4096 tokens.
3. The caches may take a quarter of the memory available now (MemAvailable), once the model's
   file and the hub's own 1.5 GB are set aside: the other three quarters stay for a second
   loaded model, the nightly training, the page cache.
4. Slots: as many as fit, at most 4 (a spoken request, a chat, Home Assistant and background
   work at once; more would only share the same cores between more streams).
5. When fewer than 2 fit, or the file does not say its attention shape, the model serves one
   request at a time on the old single-sequence path.

A number in ``parallel_slots`` is used as given (1: always one at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

GB = 1_000_000_000
HUB_RESERVE_BYTES = int(1.5 * GB)  # the hub's own work: embedder, speech, databases
KV_SHARE = 0.25  # of the memory left once the model's file and the hub's reserve are set aside
MAX_AUTO_SLOTS = 4
MIN_PARALLEL_SLOTS = 2  # fewer than this: one at a time, on the single-sequence path
KV_CELL_BYTES = 2  # llama.cpp's default cache type is f16

SlotsSetting = int | Literal["auto"]


@dataclass(frozen=True)
class KvShape:
    """What one token of context costs a sequence's KV cache, from the model's metadata."""

    layers: int
    kv_heads: int  # per layer (the mean, rounded up, when the file gives one count per layer)
    key_dim: int
    value_dim: int

    @property
    def bytes_per_token(self) -> int:
        """Bytes of KV cache one token of one sequence takes."""
        return self.layers * self.kv_heads * (self.key_dim + self.value_dim) * KV_CELL_BYTES


def kv_shape_of(metadata: dict[str, Any]) -> KvShape | None:
    """The attention shape a GGUF file's metadata gives, or None when it does not say."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        return None

    def number(key: str) -> int | None:
        value = metadata.get(f"{arch}.{key}")
        return value if isinstance(value, int) and value > 0 else None

    layers, heads = number("block_count"), metadata.get(f"{arch}.attention.head_count")
    if isinstance(heads, list):  # one count per layer (some hybrid models): the largest
        heads = max((h for h in heads if isinstance(h, int)), default=None)
    if not isinstance(heads, int) or heads <= 0 or layers is None:
        return None
    embedding = number("embedding_length")
    width = embedding // heads if embedding else None
    key_dim = number("attention.key_length") or width
    value_dim = number("attention.value_length") or width
    kv_heads_value = metadata.get(f"{arch}.attention.head_count_kv", heads)
    if isinstance(kv_heads_value, list):  # per layer: layers without attention count 0
        total = sum(h for h in kv_heads_value if isinstance(h, int))
        kv_heads = (total + layers - 1) // layers if total else 0
    else:
        kv_heads = kv_heads_value if isinstance(kv_heads_value, int) else 0
    if not key_dim or not value_dim or kv_heads <= 0:
        return None
    return KvShape(layers, kv_heads, key_dim, value_dim)


@dataclass(frozen=True)
class SlotPlan:
    """How the model serves: ``slots`` sequences of ``slot_context`` tokens each, and why."""

    slots: int
    slot_context: int
    reason: str


def plan_slots(
    setting: SlotsSetting,
    slot_context_setting: int,
    context_length: int,
    model_context: int,
    file_bytes: int,
    shape: KvShape | None,
    available_bytes: int,
) -> SlotPlan:
    """Apply the module's rule; ``slot_context_setting`` 0 means ``context_length``."""
    context = min(slot_context_setting or context_length, model_context)
    if setting != "auto":
        return SlotPlan(setting, context, f"parallel_slots = {setting}")
    if shape is None:
        return SlotPlan(1, context, "the model's file does not say its attention shape")
    per_slot = shape.bytes_per_token * context
    budget = int(max(0, available_bytes - file_bytes - HUB_RESERVE_BYTES) * KV_SHARE)
    fit = min(MAX_AUTO_SLOTS, budget // per_slot)
    room = (
        f"{per_slot / 2**20:.0f} MiB of KV cache per slot of {context} tokens, "
        f"{budget / 2**20:.0f} MiB for caches of {available_bytes / 2**30:.1f} GiB available"
    )
    if fit < MIN_PARALLEL_SLOTS:
        return SlotPlan(1, context, f"one at a time: {room}")
    return SlotPlan(int(fit), context, room)
