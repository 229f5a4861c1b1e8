"""ParallelModelProcess: the model's child process serving several requests at once.

The child runs a BatchEngine (see batch_engine): requests join its running batch, each with an
id, and every reply carries the id it answers. In the hub, one reader thread hands each reply
to the request waiting for it, so several worker threads can generate at the same time. The
watchdog of ModelProcess stays: while anything waits for the child and it says nothing for
``stall_timeout`` seconds, it is killed and every waiting request fails saying so.

The LoRA adapter applies to the whole context, so a swap waits until no request runs (the
child holds it, and every request after it, until its batch is empty).

A request tells the child how many others the hub is still preparing (see starting_requests).
While nothing is generating, the child waits for them, at most ``GATHER_S``, and reads their
prompts in the same step: requests sent together then get their first tokens together, instead
of the last ones waiting for the first one's whole prompt. With a batch generating it never
waits: running answers are not held back.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hub.engine.cpu_placement import pin_this_process
from hub.engine.model_process import (
    _CONTEXT,
    DEFAULT_STALL_TIMEOUT_S,
    STOP_WAIT_S,
    ModelProcessError,
    ModelSpec,
    ModelStalledError,
    _error_reply,
    _rebuilt_error,
)
from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams

logger = logging.getLogger(__name__)

PRIORITY_RANKS = {"voice": 0, "chat": 1, "background": 2}
OWN_CONTEXT = 256  # the tokenizer's context: decoding happens in the engine's own
CANCEL_POLL_S = 0.05  # how often a waiting request looks at its cancel flag
GATHER_S = 0.05  # longest a batch's first prompt waits for requests announced with it
_GONE = ("gone",)


@dataclass(frozen=True)
class EngineLoad:
    """What the child's batch is doing, as last reported."""

    slots: int
    slots_in_use: int
    batch_sequences: int


@dataclass
class Newcomers:
    """Requests the hub announced (still preparing) while nothing generates; see the module's
    docstring."""

    awaited: int = 0
    until: float = 0.0

    def arrived(self, companions: int, now: float) -> None:
        """A generate came, saying ``companions`` more are on their way (the latest count is
        the freshest)."""
        if companions and not self.awaited:
            self.until = now + GATHER_S
        self.awaited = companions

    def wait_left(self, generating: bool, now: float) -> float:
        """Seconds to wait for the announced ones before the next step (0: step now)."""
        if generating or self.awaited <= 0:
            return 0.0
        if now >= self.until:
            self.awaited = 0
            return 0.0
        return self.until - now


def serve_parallel(conn: Connection, spec: ModelSpec, slots: int) -> None:
    """The child's loop: load the model, then run a batch engine until told to close."""
    from hub.engine.batch_engine import BatchEngine
    from hub.engine.llama_model import LlamaCppModel

    if spec.cpus:
        pin_this_process(spec.cpus)
    try:
        model = LlamaCppModel(
            spec.name,
            spec.path,
            spec.info,
            spec.context_length,
            spec.threads,
            own_context=OWN_CONTEXT,
            workers=spec.workers,
        )
        engine = BatchEngine(model, slots, spec.threads, conn.send)
    except Exception as exc:
        conn.send(_error_reply(exc))
        return
    conn.send(("ready", model.context_length))
    held: list[tuple[Any, ...]] = []  # an adapter swap waits for an empty batch, and all after it
    newcomers = Newcomers()

    def handle(request: tuple[Any, ...]) -> bool:
        op, args = request[0], request[1:]
        if op == "close":
            return False
        if held or (op == "set_adapter" and engine.busy):
            held.append(request)
            return True
        if op == "generate":
            rid, prompt, params, rank, companions = args
            engine.submit(rid, prompt, params, rank)
            newcomers.arrived(companions, time.perf_counter())
        elif op == "cancel":
            engine.cancel(*args)
        else:
            rid, rest = args[0], args[1:]
            try:
                if op == "render_chat":
                    result: Any = model.render_chat(*rest)
                elif op == "render_text":
                    result = model.render_text(*rest)
                elif op == "set_adapter":
                    engine.set_adapter(*rest)
                    result = None
                else:
                    raise ValueError(f"unknown model request {op!r}")
            except Exception as exc:
                conn.send(("error", rid, *_error_reply(exc)[1:]))
            else:
                conn.send(("ok", rid, result))
        return True

    running = True
    load = (0, 0)
    try:
        while running:
            if held and not engine.busy:
                waiting, held[:] = list(held), []
                for request in waiting:
                    running = running and handle(request)
                continue
            try:
                if not engine.busy:
                    running = handle(conn.recv())
                while running and conn.poll():
                    running = handle(conn.recv())
                wait = newcomers.wait_left(engine.generating, time.perf_counter())
                if running and wait > 0:
                    if conn.poll(wait):
                        continue  # handle what came, then look again
                    newcomers.awaited = 0
            except (EOFError, OSError):
                break
            if engine.busy:
                engine.step()
            # Only a change is told: every message wakes the hub, which costs llama.cpp a core.
            now = (engine.slots_in_use, engine.last_batch_sequences if engine.busy else 0)
            if now != load:
                conn.send(("load", *now))
                load = now
    finally:
        engine.close()
        model.close()


class ParallelModelProcess:
    """A ChatModel serving up to ``slots`` generations at once from one child process; safe to
    call from several threads."""

    def __init__(
        self,
        spec: ModelSpec,
        slots: int,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT_S,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.slots = slots
        self.stall_timeout = stall_timeout
        self.context_length = min(spec.context_length, spec.info.context_length)
        self.adapter_path: Path | None = None
        self.load = EngineLoad(slots, 0, 0)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards the connection, the replies' routes, restarts
        self._routes: dict[int, queue.SimpleQueue[tuple[Any, ...]]] = {}
        self._process: Any = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        with self._lock:
            self._start()

    def _start(self) -> None:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=serve_parallel,
            args=(child, self.spec, self.slots),
            name=f"model-{self.name}",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(self.stall_timeout):
            process.kill()
            raise ModelStalledError(f"model {self.name} did not load in {self.stall_timeout} s")
        try:
            reply = parent.recv()
        except (EOFError, OSError) as exc:
            process.join(STOP_WAIT_S)
            raise ModelProcessError(f"could not load model {self.name}: it died") from exc
        if reply[0] != "ready":
            process.join(STOP_WAIT_S)
            raise ModelProcessError(f"could not load model {self.name}: {reply[2]}")
        self.context_length = int(reply[1])
        self._process, self._conn = process, parent
        self._reader = threading.Thread(
            target=self._read, args=(parent,), name=f"model-{self.name}-replies", daemon=True
        )
        self._reader.start()
        if self.adapter_path is not None:  # a restarted child serves with the same adapter
            rid, route = self._open_route()
            parent.send(("set_adapter", rid, self.adapter_path))
            self._lock.release()
            try:
                self._await_result(rid, route)
            finally:
                self._lock.acquire()

    def _read(self, conn: Connection) -> None:
        # The reader thread: route every reply; past the stall timeout with requests waiting,
        # or when the child dies, fail them all.
        while True:
            try:
                if not conn.poll(self.stall_timeout):
                    with self._lock:
                        waiting = bool(self._routes) and self._conn is conn
                    if not waiting:
                        continue
                    logger.error("model process of %s stopped answering; killing it", self.name)
                    self._fail_all(conn, "stalled")
                    return
                reply = conn.recv()
            except (EOFError, OSError):
                self._fail_all(conn, "died")
                return
            if reply[0] == "load":
                self.load = EngineLoad(self.slots, reply[1], reply[2])
                continue
            if reply[0] == "pieces":  # several requests' pieces in one message
                with self._lock:
                    routed = [(self._routes.get(rid), rid, text) for rid, text in reply[1]]
                for route, rid, text in routed:
                    if route is not None:
                        route.put(("piece", rid, text))
                continue
            with self._lock:
                route = self._routes.get(reply[1])
            if route is not None:
                route.put(reply)

    def _fail_all(self, conn: Connection, why: str) -> None:
        with self._lock:
            if self._conn is not conn:
                return
            process = self._process
            self._conn = self._process = None
            routes, self._routes = self._routes, {}
        with contextlib.suppress(OSError):
            conn.close()
        if process is not None:
            process.kill()
            process.join(STOP_WAIT_S)
        for route in routes.values():
            route.put((_GONE[0], why))

    def _open_route(self) -> tuple[int, queue.SimpleQueue[tuple[Any, ...]]]:
        # Caller holds the lock.
        rid = next(self._ids)
        route: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._routes[rid] = route
        return rid, route

    def _send_new(self, message: Callable[[int], tuple[Any, ...]]) -> tuple[int, Any]:
        with self._lock:
            if self._conn is None:
                logger.error("model process of %s is gone; starting it again", self.name)
                self._start()
            assert self._conn is not None
            rid, route = self._open_route()
            self._conn.send(message(rid))
        return rid, route

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._lock, contextlib.suppress(OSError, AttributeError):
            if self._conn is not None:
                self._conn.send(message)

    def _close_route(self, rid: int) -> None:
        with self._lock:
            self._routes.pop(rid, None)

    def _gone_error(self, why: str) -> ModelProcessError:
        if why == "stalled":
            return ModelStalledError(
                f"the process running model {self.name} gave no sign of progress for "
                f"{self.stall_timeout:.0f} s and was stopped; the next request starts it "
                "again (if the model is only slow, raise HUB_MODEL_STALL_TIMEOUT)"
            )
        return ModelProcessError(
            f"the process running model {self.name} died; the next request starts it again"
        )

    def _await_result(self, rid: int, route: queue.SimpleQueue[tuple[Any, ...]]) -> Any:
        try:
            reply = route.get()
        finally:
            self._close_route(rid)
        if reply[0] == _GONE[0]:
            raise self._gone_error(reply[1])
        if reply[0] == "error":
            raise _rebuilt_error(reply[2], reply[3])
        return reply[2]

    def _call(self, op: str, *args: Any) -> Any:
        rid, route = self._send_new(lambda rid: (op, rid, *args))
        return self._await_result(rid, route)

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        """Render with the model's chat template (in the child, which has the tokenizer)."""
        prompt: Prompt = self._call("render_chat", messages)
        return prompt

    def render_text(self, text: str) -> Prompt:
        """Tokenize raw text for a plain completion."""
        prompt: Prompt = self._call("render_text", text)
        return prompt

    def set_adapter(self, path: Path | None) -> None:
        """Serve with the LoRA adapter at ``path`` once no request runs (None: none)."""
        self._call("set_adapter", path)
        self.adapter_path = path

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
        priority: str = "chat",
        companions: int = 0,
    ) -> Iterator[str]:
        """Yield the pieces of one generation as the child's batch makes them; ``companions``:
        other requests the hub will send within moments (see the module's docstring)."""
        rank = PRIORITY_RANKS.get(priority, PRIORITY_RANKS["chat"])
        rid, route = self._send_new(lambda rid: ("generate", rid, prompt, params, rank, companions))
        cancel_sent = finished = False
        try:
            while True:
                try:
                    reply = route.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    reply = None
                if not cancel_sent and cancelled():
                    self._send(("cancel", rid))  # the slot is freed at the child's next step
                    cancel_sent = True
                if reply is None:
                    continue
                kind = reply[0]
                if kind == "piece":
                    if not cancel_sent:
                        yield reply[2]
                    continue
                finished = True
                if kind == _GONE[0]:
                    raise self._gone_error(reply[1])
                if kind == "error":
                    raise _rebuilt_error(reply[2], reply[3])
                for name, value in reply[2].items():
                    setattr(stats, name, value)
                return
        finally:
            if not cancel_sent and not finished:  # the caller stopped reading early
                self._send(("cancel", rid))
            self._close_route(rid)

    def close(self) -> None:
        """Stop the child, which frees the model's memory."""
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = self._process = None
            routes, self._routes = self._routes, {}
        for route in routes.values():
            route.put((_GONE[0], "died"))
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("close",))
            conn.close()
        if process is not None:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()
