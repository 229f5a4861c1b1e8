"""Helpers for the personalization tests: llama.cpp greedy tokens and log-probabilities with an
adapter, and the packaged model's path."""

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


def logprob_distances(
    model_path: Path, lora: Path, prompts: list[list[int]], expected: list[Any]
) -> list[float]:
    """For each prompt, the largest gap between llama.cpp's next-token log-probabilities and
    ``expected`` over the 20 tokens ``expected`` finds likeliest."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=str(model_path),
        n_ctx=256,
        n_threads=2,
        lora_path=str(lora),
        verbose=False,
        logits_all=True,
    )
    gaps = []
    try:
        for ids, want in zip(prompts, expected, strict=True):
            llm.reset()
            llm.eval(ids)
            logits = np.asarray(llm.scores[len(ids) - 1], dtype=np.float64)
            shifted = logits - logits.max()
            have = shifted - np.log(np.exp(shifted).sum())
            top = np.argsort(-want)[:20]
            gaps.append(float(np.abs(have[top] - want[top]).max()))
    finally:
        llm.close()
    return gaps
