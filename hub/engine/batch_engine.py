"""BatchEngine: several requests decoded together in one llama.cpp context.

Each slot is one KV sequence of a shared context (llama.cpp's ``n_seq_max``, the context split
per slot so a slot's attention never reads another's cells). Every step builds one
``llama_batch``: the next token of every slot that is generating, then prompt chunks of slots
still reading their prompt (highest priority first), so a new request joins at the next step
and a long prompt never stalls the others for more than one chunk. A slot keeps the tokens it
evaluated after its request ends; a new request takes the free slot sharing the longest prompt
prefix with it (least recently used otherwise), so interleaved conversations do not evaluate
their history again; a new conversation copies a shared start (a system prompt) from another
slot's cache instead of evaluating it.

It runs in the model's child process on one thread; ``emit`` sends its replies to the hub.
"""

from __future__ import annotations

import codecs
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp

from hub.engine.llama_model import LlamaCppModel
from hub.engine.slot_sampler import SlotSampler
from hub.engine.stop_text import StopTextFilter
from hub.engine.types import GenerationStats, Prompt, SamplingParams

logger = logging.getLogger(__name__)

Emit = Callable[[tuple[Any, ...]], None]
N_BATCH = 512
PREFILL_CHUNK = 256  # prompt tokens one slot may add to a step (others keep decoding meanwhile)
MIN_COPY_TOKENS = 16  # shared prompt tokens worth copying another slot's cache for
SEND_EVERY_S = 0.03  # later pieces of every request are sent together this often


class EngineError(RuntimeError):
    """llama.cpp could not decode a batch."""


@dataclass
class _Request:
    rid: int
    prompt: Prompt
    params: SamplingParams
    priority: int
    order: int
    sampler: SlotSampler
    stats: GenerationStats = field(default_factory=GenerationStats)
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    to_evaluate: list[int] = field(default_factory=list)  # prompt rest, or the last sampled token
    generating: bool = False  # the prompt is evaluated; tokens now come one per step
    pending: list[str] = field(default_factory=list)
    sent_at: float = 0.0

    def __post_init__(self) -> None:
        self.stop_filter = StopTextFilter(tuple(self.params.stop) + self.prompt.stop)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")


@dataclass
class _Slot:
    seq: int
    cached: list[int] = field(default_factory=list)  # the tokens in this sequence's KV cells
    request: _Request | None = None
    last_used: int = 0


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class BatchEngine:
    """``slots`` sequences of ``model`` decoded together; see the module's docstring."""

    def __init__(self, model: LlamaCppModel, slots: int, threads: int, emit: Emit) -> None:
        self.model = model
        self.emit = emit
        self.context_length = model.context_length
        # The same settings as the one-at-a-time path (flash attention, cache types, ...), so
        # a request is answered alike on both; only the shape differs.
        params = model.context_params_copy()
        params.n_ctx = model.context_length * slots
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_seq_max = slots
        params.kv_unified = False  # a slot's cache is its own: idle slots cost decode nothing
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.llama_model_pointer, params)
        if not self._ctx:
            raise EngineError(f"llama.cpp could not make a context of {slots} sequences")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
        self._vocab = model.vocab_pointer
        self.slots = [_Slot(seq) for seq in range(slots)]
        self._waiting: list[_Request] = []
        self._tick = 0
        self._order = 0
        self._sent_at = 0.0  # when the running requests' pieces were last sent together
        self.last_batch_sequences = 0
        self.prompt_tokens_evaluated = 0  # all slots, since start: tests read prefix reuse here

    @property
    def busy(self) -> bool:
        """True while a request is running or waiting for a slot."""
        return bool(self._waiting) or any(slot.request for slot in self.slots)

    @property
    def generating(self) -> bool:
        """True while some slot has read its prompt and makes tokens."""
        return any(slot.request is not None and slot.request.generating for slot in self.slots)

    @property
    def slots_in_use(self) -> int:
        """Slots serving a request now."""
        return sum(1 for slot in self.slots if slot.request is not None)

    def submit(self, rid: int, prompt: Prompt, params: SamplingParams, priority: int) -> None:
        """Start request ``rid`` (lower ``priority`` first) at the next step, or when a slot
        frees; a bad grammar is answered with an error at once."""
        try:
            sampler = SlotSampler(self._vocab, params)
        except ValueError as exc:
            self.emit(("error", rid, "ValueError", str(exc)))
            return
        self._order += 1
        request = _Request(rid, prompt, params, priority, self._order, sampler)
        request.stats.prompt_tokens = len(prompt.tokens)
        request.stats.finish_reason = "length"
        self._waiting.append(request)
        self._waiting.sort(key=lambda r: (r.priority, r.order))
        self._admit()

    def cancel(self, rid: int) -> None:
        """End request ``rid`` now and free its slot (a request no longer running: nothing)."""
        for request in self._waiting:
            if request.rid == rid:
                self._waiting.remove(request)
                request.stats.finish_reason = "cancelled"
                self._finish(request, None)
                return
        for slot in self.slots:
            if slot.request is not None and slot.request.rid == rid:
                slot.request.stats.finish_reason = "cancelled"
                self._finish(slot.request, slot)
                return

    def _admit(self) -> None:
        while self._waiting:
            free = [slot for slot in self.slots if slot.request is None]
            if not free:
                return
            request = self._waiting.pop(0)
            tokens = request.prompt.tokens
            slot = self._slot_for(tokens, free)
            limit = max(len(tokens) - 1, 0)
            keep = min(common_prefix(slot.cached, tokens), limit)
            donor = self._donor_for(tokens, slot, keep, limit)
            if donor is not None:
                # Another slot holds a longer start of this prompt (a shared system prompt):
                # llama.cpp copies a sequence between streams only whole, so copy its cache,
                # then cut it back to the shared part below. A copy costs a memcpy of one
                # slot's cache, far less than evaluating the shared tokens again.
                llama_cpp.llama_memory_seq_cp(self._memory, donor.seq, slot.seq, -1, -1)
                slot.cached = list(donor.cached)
                keep = min(common_prefix(slot.cached, tokens), limit)
            if not llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, keep, -1):
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
                keep = 0
            del slot.cached[keep:]
            request.stats.cached_prompt_tokens = keep
            request.to_evaluate = list(tokens[keep:])
            slot.request = request

    def _donor_for(self, tokens: list[int], slot: _Slot, keep: int, limit: int) -> _Slot | None:
        # Worth a copy only for a clearly longer shared start; a slot still reading its prompt
        # has cells not yet written, so only idle or generating slots give.
        best, shared = None, keep + MIN_COPY_TOKENS
        for other in self.slots:
            if other is slot or (other.request is not None and not other.request.generating):
                continue
            n = min(common_prefix(other.cached, tokens), limit)
            if n >= shared:
                best, shared = other, n
        return best

    @staticmethod
    def _slot_for(tokens: list[int], free: list[_Slot]) -> _Slot:
        # A slot holding this conversation (at least half of its cache is the prompt's start)
        # keeps serving it; otherwise the least recently used one is given up, so a shared
        # system prompt alone never takes another conversation's cache.
        shared = [(common_prefix(s.cached, tokens), s) for s in free]
        ours = [(n, s) for n, s in shared if n > 0 and 2 * n >= len(s.cached)]
        if ours:
            return max(ours, key=lambda pair: (pair[0], -pair[1].last_used))[1]
        return min(free, key=lambda s: s.last_used)

    def set_adapter(self, path: Path | None) -> None:
        """Serve with the LoRA adapter at ``path``; only while no request runs. Every slot's
        cache is dropped, since it was computed with other weights."""
        if self.busy:
            raise RuntimeError("the adapter can change only between requests")
        self.model.set_adapter(path, self._ctx)
        llama_cpp.llama_memory_clear(self._memory, True)
        for slot in self.slots:
            slot.cached.clear()

    def step(self) -> None:
        """Evaluate one batch: a token of every generating slot, then prompt chunks."""
        batch = self._batch
        outputs: list[tuple[_Slot, int]] = []
        added: list[tuple[_Slot, list[int]]] = []
        n = 0

        def add(slot: _Slot, tokens: list[int], logits_last: bool) -> None:
            nonlocal n
            start = len(slot.cached)
            for i, token in enumerate(tokens):
                batch.token[n] = token
                batch.pos[n] = start + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = slot.seq
                batch.logits[n] = 0
                n += 1
            if logits_last:
                batch.logits[n - 1] = 1
                outputs.append((slot, n - 1))
            added.append((slot, tokens))

        running = [slot for slot in self.slots if slot.request is not None]
        for slot in running:
            assert slot.request is not None
            if slot.request.generating:
                add(slot, slot.request.to_evaluate, True)
        reading = sorted(
            (slot for slot in running if slot.request and not slot.request.generating),
            key=lambda s: (s.request.priority, s.request.order) if s.request else (0, 0),
        )
        for slot in reading:
            request = slot.request
            assert request is not None
            room = min(N_BATCH - n, PREFILL_CHUNK)
            if room <= 0:
                break
            chunk = request.to_evaluate[:room]
            last = len(chunk) == len(request.to_evaluate)
            add(slot, chunk, last)
        if n == 0:
            return
        batch.n_tokens = n
        self.last_batch_sequences = len(added)
        result = llama_cpp.llama_decode(self._ctx, batch)
        if result != 0:
            self._fail_batch(added, result)
            return
        for slot, tokens in added:
            slot.cached.extend(tokens)
            request = slot.request
            assert request is not None
            if not request.generating:
                self.prompt_tokens_evaluated += len(tokens)
            del request.to_evaluate[: len(tokens)]
        for slot, index in outputs:
            request = slot.request
            assert request is not None
            request.generating = True
            self._take_token(slot, request, request.sampler.sample(self._ctx, index))
        self._flush_due()

    def _fail_batch(self, added: list[tuple[_Slot, list[int]]], result: int) -> None:
        message = (
            "the model's context is full"
            if result == 1
            else f"llama.cpp failed to decode (code {result})"
        )
        for slot, _ in added:
            request = slot.request
            if request is None:
                continue
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
            slot.cached.clear()
            self._release(request, slot)
            self.emit(("error", request.rid, "EngineError", message))
        self._admit()

    def _take_token(self, slot: _Slot, request: _Request, token: int) -> None:
        stats = request.stats
        now = time.perf_counter()
        if request.first_token_at is None:
            request.first_token_at = now
            stats.time_to_first_token = now - request.started
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            stats.finish_reason = "stop"
            self._finish(request, slot)
            return
        stats.completion_tokens += 1
        stats.decode_seconds = now - request.first_token_at
        text = request.stop_filter.feed(request.decoder.decode(self.model.detokenize([token])))
        if text:
            request.pending.append(text)
        if request.stop_filter.stopped:
            stats.finish_reason = "stop"
        elif stats.completion_tokens < request.params.max_tokens and (
            stats.prompt_tokens + stats.completion_tokens < self.context_length
        ):
            request.to_evaluate = [token]
            return
        self._finish(request, slot)

    def _flush_due(self) -> None:
        # A request's first piece goes at once; later ones of every request together, every
        # SEND_EVERY_S, in one message: each message wakes the hub, whose work then takes a
        # core from llama.cpp's threads, so one wake-up serves all the streams.
        now = time.perf_counter()
        due = now - self._sent_at >= SEND_EVERY_S
        ready: list[tuple[int, str]] = []
        for slot in self.slots:
            request = slot.request
            if request is None or not request.pending:
                continue
            if due or request.sent_at == 0.0:
                ready.append((request.rid, "".join(request.pending)))
                request.pending.clear()
                request.sent_at = now
        if ready:
            self.emit(("pieces", ready))
            if due:
                self._sent_at = now

    def _finish(self, request: _Request, slot: _Slot | None) -> None:
        if request.stats.finish_reason != "cancelled":
            tail = request.stop_filter.feed(request.decoder.decode(b"", final=True))
            tail += request.stop_filter.flush()
            if tail:
                request.pending.append(tail)
            if request.pending:
                self.emit(("piece", request.rid, "".join(request.pending)))
        self._release(request, slot)
        stats = request.stats
        self.emit(("done", request.rid, {k: v for k, v in vars(stats).items()}))
        self._admit()

    def _release(self, request: _Request, slot: _Slot | None) -> None:
        request.sampler.close()
        if slot is not None:
            slot.request = None
            self._tick += 1
            slot.last_used = self._tick

    def close(self) -> None:
        """Free the context and the batch (the model is the caller's)."""
        for slot in self.slots:
            if slot.request is not None:
                slot.request.sampler.close()
                slot.request = None
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
