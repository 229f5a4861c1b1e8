"""ModelRunner: one model at work at a time, a bounded wait queue, and streaming to asyncio."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from hub.engine.activity import ModelActivity
from hub.engine.chat_model import AdapterSwappable, ChatModel, FallsBack
from hub.engine.slot_gate import PRIORITIES, Priority, SlotGate
from hub.engine.starting_requests import StartingRequests
from hub.engine.types import GenerationStats, Prompt, SamplingParams
from hub.errors import HubError

logger = logging.getLogger(__name__)

PrepareFn = Callable[[ChatModel], tuple[Prompt, SamplingParams]]
ModelLoader = Callable[[str], ChatModel]
AdapterResolver = Callable[[str], Path | None]


class QueueFullError(HubError, RuntimeError):
    """Too many requests are already waiting for the model."""

    http_status = 429
    error_code = "queue_full"
    error_type = "rate_limit_error"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"the hub is busy; retry in about {retry_after} s; the model is serving all the "
            "requests it can at once and its wait queue is full (the max_queue setting)"
        )
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        """When to try again."""
        return {"Retry-After": str(self.retry_after)}


class ModelUnavailableError(HubError, RuntimeError):
    """A model could not be loaded (a broken or missing file, a failed process)."""

    http_status = 503
    error_code = "model_unavailable"
    error_type = "server_error"

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"model {name} could not be loaded ({reason}); replace or fix its file "
            "(`hub models list` shows why), or choose another with `hub models use NAME`"
        )
        self.name = name
        self.reason = reason


# loading: not tried yet; ready: the chosen model serves; fallback: another one serves because
# the chosen one failed to load; unavailable: none could be loaded, chat answers 503.
ModelState = Literal["loading", "ready", "fallback", "unavailable"]


@dataclass(frozen=True)
class ModelStatus:
    """Which model serves, and why it is not the chosen one when it is not."""

    state: ModelState
    chosen: str  # what the settings or `hub models use` asked for
    serving: str | None  # what answers requests that name no model; None: nothing
    reason: str | None = None  # why ``chosen`` does not serve


_DONE = object()


@dataclass(frozen=True)
class ServingLoad:
    """What /metrics shows of the model's slots and queue."""

    slots: int
    slots_in_use: int
    batch_sequences: int  # sequences in the model's last decode step
    waiting: dict[str, int]  # per priority


@runtime_checkable
class PrioritizedModel(Protocol):
    """A model serving several generations at once, which orders them by priority."""

    slots: int

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
        priority: str = "chat",
        companions: int = 0,
    ) -> Iterator[str]:
        """ChatModel.generate, with the request's priority and how many other requests, as
        urgent or more, will start within moments (see starting_requests)."""
        ...


def _no_adapter(model_name: str) -> Path | None:
    return None


@dataclass
class Generation:
    """A running generation: iterate it for text pieces; ``stats`` is complete once it ends."""

    model_name: str
    stats: GenerationStats
    _pieces: asyncio.Queue[object]
    _cancel: threading.Event
    _finished: asyncio.Future[None] = field(repr=False)
    # The task feeding ``_pieces`` when this generation is another one's text rewritten.
    _relay: asyncio.Task[None] | None = field(default=None, repr=False)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        async for batch in self.batches():
            for piece in batch:
                yield piece

    async def batches(self) -> AsyncIterator[list[str]]:
        """Yield every piece that is ready at once, so a slow reader catches up in one write."""
        try:
            done = False
            while not done:
                items = [await self._pieces.get()]
                while not self._pieces.empty():
                    items.append(self._pieces.get_nowait())
                batch: list[str] = []
                for item in items:
                    if item is _DONE:
                        done = True
                        break
                    if isinstance(item, BaseException):
                        raise item
                    assert isinstance(item, str)
                    batch.append(item)
                if batch:
                    yield batch
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Ask the model to stop after its current token; it frees itself for the next request."""
        self._cancel.set()

    def add_finish_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the event loop once the model has stopped, however it ended."""
        self._finished.add_done_callback(lambda _: callback())

    async def wait_finished(self) -> None:
        """Wait until the model has stopped working on this generation."""
        await asyncio.shield(self._finished)


PieceRewriter = Callable[["Generation"], AsyncIterator[str]]


def rewritten_generation(inner: Generation, rewrite: PieceRewriter) -> Generation:
    """A Generation whose text is what ``rewrite`` makes of ``inner``'s (it may hold text back,
    or cancel ``inner`` and say something else); same model, stats and finish; cancelling it
    cancels ``inner``."""
    pieces: asyncio.Queue[object] = asyncio.Queue()

    async def relay() -> None:
        try:
            async for piece in rewrite(inner):
                pieces.put_nowait(piece)
        except Exception as exc:  # the reader sees the failure as the generation's own
            pieces.put_nowait(exc)
        finally:
            pieces.put_nowait(_DONE)

    task = asyncio.get_running_loop().create_task(relay(), name="rewritten-generation")
    return Generation(inner.model_name, inner.stats, pieces, inner._cancel, inner._finished, task)


def finished_generation(model_name: str, text: str) -> Generation:
    """A Generation already complete with ``text``: for answers the hub gives without the model
    (such as confirming a memory); it streams and collects like any other."""
    pieces: asyncio.Queue[object] = asyncio.Queue()
    pieces.put_nowait(text)
    pieces.put_nowait(_DONE)
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    finished.set_result(None)
    return Generation(model_name, GenerationStats(), pieces, threading.Event(), finished)


class ModelRunner:
    """Serves generations one at a time on a single worker thread; others wait in a bounded
    queue. Keeps up to ``max_loaded`` models in memory and switches between requests only.

    With ``slots`` above 1 the loader's models serve up to that many generations at once (see
    parallel_process): requests take slots by priority (see slot_gate), each on a thread of
    its own, and a model load or adapter swap waits until no slot is in use. The slots follow
    the active model's own count (its ``slots``), set when it becomes active."""

    def __init__(
        self,
        loader: ModelLoader,
        active: str,
        max_queue: int,
        max_loaded: int = 2,
        adapter_resolver: AdapterResolver | None = None,
        slots: int = 1,
    ) -> None:
        self._loader = loader
        self.active = active
        self.max_queue = max_queue
        self.max_loaded = max_loaded
        self._gate = SlotGate(slots) if slots > 1 else None
        self._starting = StartingRequests()
        # Parallel: a thread per running generation, plus prompt rendering and loads.
        workers = 1 if slots == 1 else slots + 2
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="model")
        self._loading = threading.Lock()  # parallel prepares may look up models at once
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._loaded: OrderedDict[str, ChatModel] = OrderedDict()
        self._using: dict[str, int] = {}  # requests each loaded model serves now
        self._recent_seconds = 2.0
        # Told of every request that waits for or holds the lock: background work waits on it.
        self.activity = ModelActivity()
        # Which LoRA adapter each model serves with (None: none); asked on every load and swap.
        self._adapter_for: AdapterResolver = adapter_resolver or _no_adapter
        self.status = ModelStatus("loading", active, None)

    @property
    def slots(self) -> int:
        """Generations the active model serves at once."""
        return self._gate.slots if self._gate is not None else 1

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model (not counting the ones it is serving)."""
        if self._gate is not None:
            return self._gate.waiting()
        return self._waiting

    def queue_by_priority(self) -> dict[str, int]:
        """Requests waiting for a slot, per priority (all count as chat with one slot)."""
        if self._gate is not None:
            return {p: self._gate.waiting(p) for p in PRIORITIES}
        return {p: (self._waiting if p == "chat" else 0) for p in PRIORITIES}

    def engine_load(self) -> ServingLoad:
        """Slots, how many serve a request, the last batch's sequences, and who waits."""
        model = self._loaded.get(self.active)
        in_use = self.slots_in_use
        batch = getattr(getattr(model, "load", None), "batch_sequences", in_use)
        return ServingLoad(self.slots, in_use, int(batch), self.queue_by_priority())

    @property
    def slots_in_use(self) -> int:
        """Generations the model is serving now."""
        if self._gate is not None:
            return self._gate.in_use
        return 1 if self._lock.locked() else 0

    @property
    def busy(self) -> bool:
        """True while the model is serving a request."""
        if self._gate is not None:
            return self._gate.in_use > 0
        return self._lock.locked()

    @asynccontextmanager
    async def _holding(self) -> AsyncIterator[None]:
        self.activity.request_started()
        try:
            if self._gate is not None:
                async with self._gate.exclusive():
                    yield
            else:
                async with self._lock:
                    yield
        finally:
            self.activity.request_ended()

    def _release(self) -> None:
        if self._gate is not None:
            self._gate.release()
        else:
            self._lock.release()
        self.activity.request_ended()

    def loaded_models(self) -> list[str]:
        """Names of the models now in memory."""
        return list(self._loaded)

    def _model(self, name: str) -> ChatModel:
        with self._loading:
            return self._model_locked(name)

    def _model_locked(self, name: str) -> ChatModel:
        model = self._loaded.get(name)
        if model is None:
            logger.info("loading model %s", name)
            try:
                model = self._loader(name)
            except (ModelUnavailableError, LookupError):  # LookupError: no such model
                raise
            except Exception as exc:  # whatever the file or the process did: the same 503
                raise ModelUnavailableError(name, str(exc) or type(exc).__name__) from exc
            self._apply_adapter(model, name)
            self._loaded[name] = model
        self._loaded.move_to_end(name)
        self._unload_extra()
        return model

    def _unload_extra(self) -> None:
        # Caller holds _loading. Oldest first, but never a model serving a request: with
        # several slots a request may load its model (evicted since it looked) while others
        # generate; their models stay until they end, even beyond max_loaded meanwhile.
        idle = [n for n in self._loaded if not self._using.get(n)]
        while len(self._loaded) > self.max_loaded and len(idle) > 1:
            old_name = idle.pop(0)
            logger.info("unloading model %s", old_name)
            self._loaded.pop(old_name).close()

    def _take(self, name: str) -> ChatModel:
        """The model ``name``, loaded if need be, counted as in use until ``_give_back``."""
        with self._loading:
            model = self._model_locked(name)
            self._using[name] = self._using.get(name, 0) + 1
            return model

    def _give_back(self, name: str) -> None:
        with self._loading:
            self._using[name] -= 1
            if not self._using[name]:
                del self._using[name]
            self._unload_extra()

    def _apply_adapter(self, model: ChatModel, name: str, strict: bool = False) -> None:
        # Runs on the worker thread only, between generations. On load (not strict) a broken
        # adapter must not make the model unusable: it is logged and the model serves without.
        if not isinstance(model, AdapterSwappable):
            return
        try:
            model.set_adapter(self._adapter_for(name))
        except Exception:
            if strict:
                raise
            logger.exception("model %s starts without its adapter", name)

    async def reload_adapters(self) -> None:
        """Ask the resolver again for every loaded model and swap adapters between requests:
        a generation runs wholly before or wholly after the swap, never across it. A model
        that refuses its new adapter keeps serving the old one, and the error is raised."""
        async with self._holding():
            loop = asyncio.get_running_loop()

            def swap() -> None:
                for name, model in self._loaded.items():
                    self._apply_adapter(model, name, strict=True)

            await loop.run_in_executor(self._executor, swap)

    async def _acquire(self, priority: Priority) -> None:
        if self._gate is not None:
            await self._acquire_slot(self._gate, priority)
            return
        if self._lock.locked() and self._waiting >= self.max_queue:
            estimate = self._recent_seconds * (self._waiting + 1)
            raise QueueFullError(max(1, round(estimate)))
        self._waiting += 1
        self.activity.request_started()
        try:
            await self._lock.acquire()
        except BaseException:
            self.activity.request_ended()
            raise
        finally:
            self._waiting -= 1

    async def _acquire_slot(self, gate: SlotGate, priority: Priority) -> None:
        if gate.try_acquire(priority):
            self.activity.request_started()
            return
        if gate.waiting() >= self.max_queue:
            estimate = self._recent_seconds * (gate.waiting() + 1) / self.slots
            raise QueueFullError(max(1, round(estimate)))
        self.activity.request_started()  # a waiting request keeps background work back too
        try:
            await gate.acquire(priority)
        except BaseException:
            self.activity.request_ended()
            raise

    async def use(self, name: str) -> None:
        """Make ``name`` the active model, loading it between requests (never mid-answer)."""
        async with self._holding():
            loop = asyncio.get_running_loop()
            model = await loop.run_in_executor(self._executor, self._model, name)
            if self._gate is not None:  # every slot is free here: the gate is held whole
                self._gate.resize(int(getattr(model, "slots", self._gate.slots)))
            self.active = name
            self.status = ModelStatus("ready", name, name)

    async def start_serving(self, fallback: str) -> ModelStatus:
        """Load the active model at start. When it cannot load, ``fallback`` (the packaged
        model) serves instead and the status says why; when neither loads, the hub runs without
        a model (chat answers 503, everything else works) and the next request tries again."""
        chosen = self.active
        try:
            await self.use(chosen)
            return self.status
        except ModelUnavailableError as exc:
            reason = exc.reason
        logger.error("model %s could not be loaded: %s", chosen, reason)
        if fallback != chosen:
            try:
                await self.use(fallback)
            except ModelUnavailableError as exc:
                reason += f"; the packaged model {fallback} failed too: {exc.reason}"
            else:
                self.status = ModelStatus("fallback", chosen, fallback, reason)
                logger.error("serving the packaged model %s instead of %s", fallback, chosen)
                return self.status
        self.status = ModelStatus("unavailable", chosen, None, reason)
        logger.error("no model could be loaded: chat answers 503 until the file is fixed")
        return self.status

    async def start(
        self, model_name: str | None, prepare: PrepareFn, priority: Priority = "chat"
    ) -> Generation:
        """Wait for the model, prepare the prompt (errors surface here), then start generating.
        ``priority`` orders the wait when the model serves several at once (see slot_gate)."""
        name = model_name or self.active
        if self._gate is not None and name not in self._loaded:
            await self._load_alone(name)
        await self._acquire(priority)
        self._starting.begin(priority)
        loop = asyncio.get_running_loop()

        # The models this request counts as in use, so that no other request's load unloads
        # them meanwhile; given back on a worker thread (a load may hold the lock for seconds).
        held: list[str] = []

        def take(model_name: str) -> ChatModel:
            model = self._take(model_name)
            held.append(model_name)
            return model

        def give_back() -> None:
            while held:
                self._give_back(held.pop())

        def load_and_prepare() -> tuple[str, ChatModel, Prompt, SamplingParams]:
            try:
                model = take(name)
                if isinstance(model, FallsBack):
                    # A remote engine starts its request here, where another model can still
                    # take over; the answer then carries the fallback's name, so the person
                    # sees who.
                    if model.reachable():
                        prompt, params = prepare(model)
                        if model.connect(prompt, params):
                            return (name, model, prompt, params)
                    logger.warning("%s does not answer; %s answers instead", name, model.fallback)
                    name_served = model.fallback
                    local = take(name_served)
                    return (name_served, local, *prepare(local))
                return (name, model, *prepare(model))
            except BaseException:
                give_back()
                raise

        try:
            served, model, prompt, params = await loop.run_in_executor(
                self._executor, load_and_prepare
            )
        except BaseException:
            self._starting.end(priority)
            self._executor.submit(give_back)  # cancelled while preparing: nothing else will
            self._release()
            raise
        pieces: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        stats = GenerationStats()
        started = time.monotonic()

        def produce() -> None:
            try:
                companions = self._starting.end(priority)
                pieces_of = (
                    model.generate(
                        prompt, params, stats, cancel.is_set, priority, companions=companions
                    )
                    if isinstance(model, PrioritizedModel)
                    else model.generate(prompt, params, stats, cancel.is_set)
                )
                for piece in pieces_of:
                    loop.call_soon_threadsafe(pieces.put_nowait, piece)
            except Exception as exc:
                logger.exception("generation failed on model %s", served)
                loop.call_soon_threadsafe(pieces.put_nowait, exc)
            finally:
                give_back()
            loop.call_soon_threadsafe(pieces.put_nowait, _DONE)

        finished = asyncio.wrap_future(self._executor.submit(produce))

        def release(_: asyncio.Future[None]) -> None:
            # The lock is freed by the worker finishing, not by the client, so a client that
            # vanishes before reading anything can never wedge the model.
            self._recent_seconds = 0.7 * self._recent_seconds + 0.3 * (time.monotonic() - started)
            self._release()

        finished.add_done_callback(release)
        return Generation(served, stats, pieces, cancel, finished)

    async def _load_alone(self, name: str) -> None:
        # A load (and the unload it may cause) never happens under a running generation.
        async with self._holding():
            await asyncio.get_running_loop().run_in_executor(self._executor, self._model, name)

    async def close(self) -> None:
        """Stop the worker and free every loaded model."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_models)
        self._executor.shutdown(wait=True)

    def _close_models(self) -> None:
        while self._loaded:
            _, model = self._loaded.popitem()
            model.close()
