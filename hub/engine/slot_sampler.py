"""A llama.cpp sampler chain for one request: penalties, grammar, then greedy or random."""

from __future__ import annotations

import llama_cpp

from hub.engine.types import SamplingParams

PENALTY_LAST_N = 64  # the tokens the repetition penalties look back on (llama-cpp-python's)


class SlotSampler:
    """The sampler chain of one running request; free it when the request ends."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p, params: SamplingParams) -> None:
        self.chain = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params()
        )
        add = self._add
        if (
            params.repeat_penalty != 1.0
            or params.frequency_penalty != 0.0
            or params.presence_penalty != 0.0
        ):
            add(
                llama_cpp.llama_sampler_init_penalties(
                    llama_cpp.llama_vocab_n_tokens(vocab),
                    PENALTY_LAST_N,
                    params.repeat_penalty,
                    params.frequency_penalty,
                    params.presence_penalty,
                )
            )
        if params.grammar is not None:
            grammar = llama_cpp.llama_sampler_init_grammar(
                vocab, params.grammar.encode("utf-8"), b"root"
            )
            if not grammar:
                self.close()
                raise ValueError("llama.cpp could not parse the grammar; check its GBNF text")
            add(grammar)
        if params.temperature <= 0.0:
            add(llama_cpp.llama_sampler_init_greedy())
            return
        add(llama_cpp.llama_sampler_init_top_k(params.top_k))
        add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(params.temperature))
        seed = params.seed if params.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED
        add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def _add(self, sampler: llama_cpp.llama_sampler_p | None) -> None:
        if sampler:
            llama_cpp.llama_sampler_chain_add(self.chain, sampler)

    def sample(self, ctx: llama_cpp.llama_context_p, index: int) -> int:
        """Pick the next token from the logits at batch position ``index`` (and accept it)."""
        return int(llama_cpp.llama_sampler_sample(self.chain, ctx, index))

    def close(self) -> None:
        """Free the chain and every sampler in it."""
        if self.chain:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
