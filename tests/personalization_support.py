"""Helpers for the personalization tests: llama.cpp greedy tokens and log-probabilities with an
adapter, how far two next-token distributions are, and the packaged model's path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PARITY_TOKENS = 10


def model_path() -> Path:
    """The packaged SmolLM2 GGUF file."""
    from hub.models.packaged import locate_smollm2

    return locate_smollm2(Path("/nonexistent"))


def llama_cpp_tokens(
    model_path: Path, lora: Path | None, prompts: list[list[int]]
) -> list[list[int]]:
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(model_path),
        n_ctx=256,
        n_threads=2,
        lora_path=str(lora) if lora else None,
        verbose=False,
    )
    found = []
    try:
        for ids in prompts:
            tokens: list[int] = []
            for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0):
                tokens.append(token)
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                    break
                if len(tokens) == PARITY_TOKENS:
                    break
            llm.reset()
            found.append(tokens)
    finally:
        llm.close()
    return found


def llama_cpp_logprobs(
    model_path: Path, lora: Path | None, sequences: list[list[int]], starts: list[int]
) -> list[Any]:
    """For each sequence, llama.cpp's next-token log-probabilities at every position from
    ``start - 1`` to the end (one row per position)."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=str(model_path),
        n_ctx=256,
        n_threads=2,
        lora_path=str(lora) if lora else None,
        verbose=False,
        logits_all=True,
    )
    found = []
    try:
        for ids, start in zip(sequences, starts, strict=True):
            llm.reset()
            llm.eval(ids)
            logits = np.asarray(llm.scores[start - 1 : len(ids)], dtype=np.float64)
            shifted = logits - logits.max(axis=-1, keepdims=True)
            found.append(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))
    finally:
        llm.close()
    return found


def top_logprob_gap(have: Any, want: Any, top: int = 20) -> float:
    """The largest gap between two rows of log-probabilities over the ``top`` tokens ``want``
    finds likeliest, at the worst position."""
    import numpy as np

    gaps = [
        np.abs(h[np.argsort(-w)[:top]] - w[np.argsort(-w)[:top]]).max()
        for h, w in zip(have, want, strict=True)
    ]
    return float(max(gaps))


def total_variations(have: Any, want: Any) -> list[float]:
    """The total variation distance between two next-token distributions at each position (0:
    the same; 1: nothing in common)."""
    import numpy as np

    return [float(d) for d in 0.5 * np.abs(np.exp(have) - np.exp(want)).sum(axis=-1)]
