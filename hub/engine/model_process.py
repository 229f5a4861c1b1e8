"""ModelProcess: a llama.cpp model served from a child process.

Decoding runs a few Python calls per token. In the hub's own process those calls wait for the
interpreter lock whenever device ingest, embeddings or speech work hold it, and chat slowed to half
its speed under a device flood. In a child process the token loop never waits on the hub's Python
work; the hub's worker thread only relays pieces, blocked in a read that releases the lock. A crash
inside llama.cpp also takes down only the child, which is started again on the next request.

A child that stops answering (a hang in llama.cpp, a stopped process) is caught by a watchdog:
every wait for the child is bounded by ``stall_timeout`` (a setting, generous: the longest a
healthy child goes without a word is a long prompt's prefill on a big model); past it the child
is killed, the waiting request fails saying so, and the next request starts a new child.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hub.engine.cpu_placement import pin_this_process
from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams
from hub.errors import HubError
from hub.models.gguf_info import GgufInfo

logger = logging.getLogger(__name__)

# spawn, not fork: the hub has threads (uvicorn, torch) that a forked child would inherit broken.
_CONTEXT = multiprocessing.get_context("spawn")
STOP_WAIT_S = 10.0
SEND_EVERY_S = 0.03  # later pieces are batched this long: smooth to read, few wake-ups
DEFAULT_STALL_TIMEOUT_S = 600.0


class ModelProcessError(HubError, RuntimeError):
    """The model's child process failed or died; the next request starts a new one."""

    http_status = 503
    error_code = "model_failed"
    error_type = "server_error"


class ModelStalledError(ModelProcessError):
    """The model's child process stopped answering and was killed."""


@dataclass(frozen=True)
class ModelSpec:
    """What the child needs to load the model (plain, picklable data)."""

    name: str
    path: Path
    info: GgufInfo
    context_length: int
    threads: int
    cpus: frozenset[int] | None = None  # the CPUs the child keeps to; None: wherever it starts
    workers: tuple[str, ...] = ()  # RPC workers (IPv4:port) that hold the model's layers


def _error_reply(exc: BaseException) -> tuple[str, str, str]:
    return ("error", type(exc).__name__, str(exc) or repr(exc))


def _generate_in_child(
    conn: Connection, model: Any, prompt: Prompt, params: SamplingParams
) -> None:
    cancel = threading.Event()

    def cancelled() -> bool:
        # The parent sends ("cancel",) at most once per generation, and nothing else meanwhile.
        if not cancel.is_set() and conn.poll():
            conn.recv()
            cancel.set()
        return cancel.is_set()

    stats = GenerationStats()
    pending: list[str] = []
    sent_at = 0.0
    try:
        for piece in model.generate(prompt, params, stats, cancelled):
            pending.append(piece)
            now = time.perf_counter()
            # The first piece goes at once; later ones in small batches, since every message
            # wakes the hub, and on 2 cores each wake-up stalls one of llama.cpp's threads.
            if sent_at == 0.0 or now - sent_at >= SEND_EVERY_S:
                conn.send(("piece", "".join(pending)))
                pending.clear()
                sent_at = now
    except Exception as exc:
        conn.send(_error_reply(exc))
        return
    if pending:
        conn.send(("piece", "".join(pending)))
    conn.send(("done", {f.name: getattr(stats, f.name) for f in fields(stats)}))


def serve_model(conn: Connection, spec: ModelSpec) -> None:
    """The child's loop: load the model, then answer requests until told to close or orphaned."""
    from hub.engine.llama_model import LlamaCppModel

    if spec.cpus:
        pin_this_process(spec.cpus)  # before llama.cpp starts its threads, which inherit it
    try:
        model = LlamaCppModel(
            spec.name,
            spec.path,
            spec.info,
            spec.context_length,
            spec.threads,
            workers=spec.workers,
        )
    except Exception as exc:
        conn.send(_error_reply(exc))
        return
    conn.send(("ready", model.context_length))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the hub is gone: nothing left to serve
            break
        op, args = request[0], request[1:]
        if op == "close":
            break
        if op == "generate":
            _generate_in_child(conn, model, *args)
            continue
        if op == "cancel":
            continue  # meant for a generation that finished before it arrived: nothing to stop
        try:
            if op == "render_chat":
                result: Any = model.render_chat(*args)
            elif op == "render_text":
                result = model.render_text(*args)
            elif op == "set_adapter":
                model.set_adapter(*args)
                result = None
            else:
                raise ValueError(f"unknown model request {op!r}")
        except Exception as exc:
            conn.send(_error_reply(exc))
            continue
        conn.send(("ok", result))
    model.close()


class ModelProcess:
    """A ChatModel whose llama.cpp model lives in a child process. One caller at a time, like
    every ChatModel (the runner's worker thread). ``serve`` is the child's entry point (a
    module-level function; tests give one that misbehaves)."""

    def __init__(
        self,
        spec: ModelSpec,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT_S,
        serve: Callable[[Connection, ModelSpec], None] = serve_model,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.stall_timeout = stall_timeout
        self._serve = serve
        self.context_length = min(spec.context_length, spec.info.context_length)
        self.adapter_path: Path | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=self._serve, args=(child, self.spec), name=f"model-{self.name}", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        reply = self._receive()
        if reply[0] != "ready":
            self._stop()
            raise ModelProcessError(f"could not load model {self.name}: {reply[2]}")
        self.context_length = int(reply[1])
        if self.adapter_path is not None:  # a restarted child serves with the same adapter
            self._call("set_adapter", self.adapter_path)

    def _connection(self) -> Connection:
        if self._conn is None or not self._process.is_alive():
            if self._conn is not None:
                logger.error(
                    "model process of %s died (exit code %s); starting it again",
                    self.name,
                    self._process.exitcode,
                )
                self._stop()
            self._start()
        assert self._conn is not None
        return self._conn

    def _receive(self) -> tuple[Any, ...]:
        assert self._conn is not None
        try:
            if not self._conn.poll(self.stall_timeout):
                self._kill()
                raise ModelStalledError(
                    f"the process running model {self.name} gave no sign of progress for "
                    f"{self.stall_timeout:.0f} s and was stopped; the next request starts it "
                    "again (if the model is only slow, raise HUB_MODEL_STALL_TIMEOUT)"
                )
            reply: tuple[Any, ...] = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode if self._process is not None else None
            self._stop()
            raise ModelProcessError(
                f"the process running model {self.name} died (exit code {code}); "
                "the next request starts it again"
            ) from exc
        return reply

    def _call(self, op: str, *args: Any) -> Any:
        self._connection().send((op, *args))
        reply = self._receive()
        if reply[0] == "error":
            raise _rebuilt_error(reply[1], reply[2])
        return reply[1]

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        """Render with the model's chat template (in the child, which has the tokenizer)."""
        prompt: Prompt = self._call("render_chat", messages)
        return prompt

    def render_text(self, text: str) -> Prompt:
        """Tokenize raw text for a plain completion."""
        prompt: Prompt = self._call("render_text", text)
        return prompt

    def set_adapter(self, path: Path | None) -> None:
        """Serve with the LoRA adapter at ``path`` from the next request on (None: none)."""
        self._call("set_adapter", path)
        self.adapter_path = path

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        """Relay the child's pieces; a cancel is passed on and the child's tail drained."""
        conn = self._connection()
        conn.send(("generate", prompt, params))
        cancel_sent = finished = False
        try:
            while True:
                reply = self._receive()
                if reply[0] == "piece":
                    if not cancel_sent:
                        yield reply[1]
                    if not cancel_sent and cancelled():
                        conn.send(("cancel",))
                        cancel_sent = True
                    continue
                finished = True
                if reply[0] == "error":
                    raise _rebuilt_error(reply[1], reply[2])
                for name, value in reply[1].items():
                    setattr(stats, name, value)
                return
        finally:
            if not finished and self._conn is conn:
                # The caller stopped reading early: stop the child and drain its last pieces,
                # so the next request never reads this one's tail.
                if not cancel_sent:
                    conn.send(("cancel",))
                while self._receive()[0] == "piece":
                    pass

    def _stop(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("close",))
            conn.close()
        if process is not None:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()

    def _kill(self) -> None:
        # A hung child would not read a "close": end it at once.
        conn, process = self._conn, self._process
        self._conn = self._process = None
        logger.error("model process of %s stopped answering; killing it", self.name)
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(STOP_WAIT_S)

    def close(self) -> None:
        """Stop the child, which frees the model's memory."""
        self._stop()


def _rebuilt_error(type_name: str, message: str) -> Exception:
    """The child's exception as one the hub's callers know how to answer."""
    from hub.engine.llama_model import AdapterLoadError

    if type_name == "AdapterLoadError":
        return AdapterLoadError(message)
    if type_name == "ValueError":
        return ValueError(message)
    return ModelProcessError(f"model failed: {type_name}: {message}")
