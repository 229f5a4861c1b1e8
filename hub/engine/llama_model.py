"""LlamaCppModel: a quantized GGUF model run in-process by llama.cpp."""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import llama_cpp
from llama_cpp.llama_grammar import LlamaGrammar

from hub.engine.chat_template import (
    PLAIN_CHAT_STOPS,
    ChatTemplate,
    render_plain_chat,
)
from hub.engine.stop_text import StopTextFilter
from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams
from hub.models.gguf_info import GgufInfo
from hub.rpc.ggml_rpc import RpcLibrary

logger = logging.getLogger(__name__)

MAX_CACHED_GRAMMARS = 32


class AdapterLoadError(RuntimeError):
    """llama.cpp refused a LoRA adapter file."""


class LlamaCppModel:
    """One GGUF file loaded by llama.cpp; reuses the KV cache for an unchanged prompt prefix."""

    def __init__(
        self,
        name: str,
        path: Path,
        info: GgufInfo,
        context_length: int,
        threads: int,
        lora_path: Path | None = None,
        own_context: int | None = None,
        workers: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.path = path
        self.info = info
        self.context_length = min(context_length, info.context_length)
        if workers:
            # Registered as devices before the model loads, so llama.cpp places its layers on
            # them; devices are per process, and each model runs in a process of its own.
            RpcLibrary().add_workers(workers)
        self._llm = llama_cpp.Llama(
            model_path=str(path),
            # With workers every layer goes to them (split by their free memory); without, none
            # leave this CPU.
            n_gpu_layers=-1 if workers else 0,
            # A batch engine decodes in a context of its own: this one then only needs to exist.
            n_ctx=own_context or self.context_length,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            lora_path=str(lora_path) if lora_path else None,
            verbose=False,
        )
        self._grammars: dict[str, LlamaGrammar] = {}
        self.adapter_path: Path | None = None
        self._adapter: object | None = None
        self._template = (
            ChatTemplate(info.chat_template, info.bos_token or "", info.eos_token or "")
            if info.chat_template
            else None
        )

    def _tokenize(self, text: str) -> list[int]:
        # A template that already writes the BOS token must not get a second one.
        bos = self.info.bos_token
        add_bos = not (bos and text.startswith(bos))
        tokens: list[int] = self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
        return tokens

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        """Render with the model's chat template, or a plain transcript for base models."""
        if self._template is None:
            return Prompt(self._tokenize(render_plain_chat(messages)), PLAIN_CHAT_STOPS)
        stops = (self.info.eos_token,) if self.info.eos_token else ()
        return Prompt(self._tokenize(self._template.render(messages)), stops)

    def render_text(self, text: str) -> Prompt:
        """Tokenize raw text for a plain completion."""
        return Prompt(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    @property
    def llama_model_pointer(self) -> llama_cpp.llama_model_p:
        """The loaded weights, for a context of another shape (see batch_engine)."""
        pointer: llama_cpp.llama_model_p = self._llm._model.model
        return pointer

    @property
    def vocab_pointer(self) -> llama_cpp.llama_vocab_p:
        """The model's vocabulary, for samplers and end-of-generation checks."""
        pointer: llama_cpp.llama_vocab_p = self._llm._model.vocab
        return pointer

    def context_params_copy(self) -> llama_cpp.llama_context_params:
        """A copy of the settings this model's context was made with."""
        params = llama_cpp.llama_context_params()
        ctypes.pointer(params)[0] = self._llm.context_params
        return params

    def detokenize(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens`` (possibly part of a UTF-8 character)."""
        return self._llm.detokenize(tokens)

    def count_cached(self, tokens: list[int]) -> int:
        """How many leading prompt tokens are already in the KV cache."""
        cached = 0
        for have, want in zip(self._llm.input_ids[: self._llm.n_tokens], tokens, strict=False):
            if have != want:
                break
            cached += 1
        return min(cached, max(len(tokens) - 1, 0))

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        """Stream text pieces; stop on end-of-generation, a stop string, the budget or cancel."""
        llm = self._llm
        stats.prompt_tokens = len(prompt.tokens)
        stats.cached_prompt_tokens = self.count_cached(prompt.tokens)
        if params.seed is not None:
            llm.set_seed(params.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stop_filter = StopTextFilter(tuple(params.stop) + prompt.stop)
        vocab = llm._model.vocab
        started = time.perf_counter()
        first_token_at: float | None = None
        stats.finish_reason = "length"
        tokens = llm.generate(
            prompt.tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty,
            grammar=self._grammar(params.grammar),
        )
        try:
            for token in tokens:
                now = time.perf_counter()
                if first_token_at is None:
                    first_token_at = now
                    stats.time_to_first_token = now - started
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    stats.finish_reason = "stop"
                    break
                stats.completion_tokens += 1
                stats.decode_seconds = now - first_token_at
                text = stop_filter.feed(decoder.decode(llm.detokenize([token])))
                if text:
                    yield text
                if stop_filter.stopped:
                    stats.finish_reason = "stop"
                    break
                if cancelled():
                    stats.finish_reason = "cancelled"
                    break
                if stats.completion_tokens >= params.max_tokens:
                    break
                if stats.prompt_tokens + stats.completion_tokens >= self.context_length:
                    break
        finally:
            tokens.close()
        tail = stop_filter.feed(decoder.decode(b"", final=True)) + stop_filter.flush()
        if tail and stats.finish_reason != "cancelled":
            yield tail

    def _grammar(self, gbnf: str | None) -> LlamaGrammar | None:
        """Parse a GBNF grammar once per model; llama.cpp builds a fresh grammar sampler from it
        for every generation, so reuse carries no state over."""
        if gbnf is None:
            return None
        if gbnf not in self._grammars:
            # Clients' tool schemas make new grammars: keep the newest few, drop the oldest.
            while len(self._grammars) >= MAX_CACHED_GRAMMARS:
                del self._grammars[next(iter(self._grammars))]
            self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def set_adapter(
        self, path: Path | None, context: llama_cpp.llama_context_p | None = None
    ) -> None:
        """Serve with the LoRA adapter at ``path`` (None: the bare base model) in ``context``
        (None: this model's own). Call it between generations only; the KV cache is dropped,
        since it was computed with other weights."""
        if path == self.adapter_path:
            return
        llm = self._llm
        ctx = context if context is not None else llm._ctx.ctx
        loaded = None
        if path is not None:
            loaded = llama_cpp.llama_adapter_lora_init(llm._model.model, str(path).encode("utf-8"))
            if not loaded:
                raise AdapterLoadError(
                    f"llama.cpp could not load the LoRA adapter {path} for model {self.name}; "
                    "it may be damaged or made for another model: roll back with "
                    "`hub personalize rollback`"
                )
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(loaded)
            scales = (ctypes.c_float * 1)(1.0)
            failed = llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales)
        else:
            failed = llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        if failed:
            if loaded is not None:
                llama_cpp.llama_adapter_lora_free(loaded)
            raise AdapterLoadError(f"llama.cpp refused the LoRA adapter {path} for {self.name}")
        if self._adapter is not None:
            llama_cpp.llama_adapter_lora_free(self._adapter)
        self._adapter = loaded
        self.adapter_path = path
        llm.reset()  # type: ignore[no-untyped-call]
        logger.info("model %s now serves with adapter %s", self.name, path or "none")

    def close(self) -> None:
        """Free llama.cpp's memory for this model (its adapter too)."""
        self._llm.close()
        self._adapter = None
