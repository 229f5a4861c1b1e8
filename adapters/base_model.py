"""The base model as training sees it: the GGUF file loaded dequantized by transformers."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("llama", "gemma3")
_HASH_CHUNK = 1 << 20


class UnsupportedArchitectureError(ValueError):
    """The base model's architecture has no LoRA export mapping."""


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (a model file can be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def quiet_offline_environment() -> None:
    """Never reach the network and keep library progress bars out of the job's output."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")


@dataclass
class LoadedBase:
    """A dequantized base model and its tokenizer, ready for peft."""

    model: Any
    tokenizer: Any
    architecture: str
    num_heads: int
    num_kv_heads: int


def gguf_architecture(model_type: str) -> str:
    """Map a transformers model type to the GGUF architecture name, or refuse it clearly."""
    architecture = {"llama": "llama", "gemma3_text": "gemma3", "gemma3": "gemma3"}.get(model_type)
    if architecture is None:
        raise UnsupportedArchitectureError(
            f"personalization supports {', '.join(SUPPORTED_ARCHITECTURES)} models; this base "
            f"model is {model_type!r}: choose a supported model with `hub models use`"
        )
    return architecture


def prepare_torch(threads: int) -> None:
    """Offline, quiet, and ``threads`` torch threads: before any model is loaded."""
    quiet_offline_environment()
    import torch
    import transformers

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def load_base(path: Path, threads: int) -> LoadedBase:
    """Load the GGUF file at ``path`` in float32 on the CPU, using ``threads`` torch threads."""
    prepare_torch(threads)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    return loaded(model, tokenizer)


def loaded(model: Any, tokenizer: Any) -> LoadedBase:
    """The model and tokenizer as training takes them (a pad token set, the shape read)."""
    config = model.config
    architecture = gguf_architecture(str(config.model_type))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedBase(
        model=model,
        tokenizer=tokenizer,
        architecture=architecture,
        num_heads=int(config.num_attention_heads),
        num_kv_heads=int(getattr(config, "num_key_value_heads", config.num_attention_heads)),
    )
