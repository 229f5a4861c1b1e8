"""A tiny random llama with fresh LoRA layers, for exact tests of the training loop."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from adapters.config import TrainConfig
from adapters.trainer import add_lora


def tiny_lora_llama() -> torch.nn.Module:
    """A seeded two-layer llama over 64 tokens, wrapped with rank-4 LoRA (its B still zero)."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return add_lora(LlamaForCausalLM(config), TrainConfig(rank=4, alpha=8))
