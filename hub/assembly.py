"""The composition root: every service of one hub is built here from the settings, in order,
started in that order, and stopped in reverse.

Nothing else wires services together: routes receive the finished ``Hub``, and no service
builds another inside its constructor or is patched after it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from hub.bridges.ble import BleBridges
from hub.bridges.import_jobs import ImportJobs
from hub.bridges.omi import OmiBridge
from hub.bridges.service import BridgeService
from hub.chat.turns import ChatTurns
from hub.clients.store import SqliteClientStore
from hub.datadir import ensure_data_dir
from hub.disk_space import MB, DiskSpaceGuard
from hub.engine.chat_model import ChatModel
from hub.engine.cpu_placement import CpuPlacement, available_cpus, plan_placement
from hub.engine.runner import ModelLoader, ModelRunner
from hub.engine.slot_plan import SlotPlan
from hub.housekeeping.schedule import start_housekeeping_schedule
from hub.housekeeping.service import HousekeepingService
from hub.metrics import HubMetrics
from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME
from hub.models.pull import ModelHubAccess
from hub.models.pull_jobs import ModelPulls
from hub.owner_token import OwnerToken
from hub.personalization.jobs import registry_for
from hub.personalization.scheduler import NightlySchedule
from hub.personalization.served import ServedAdapters
from hub.personalization.service import PersonalizationService
from hub.recall.lifecycle import MemoryWork
from hub.recall.service import MemoryService, open_memory
from hub.settings import Settings
from hub.summaries.worker import SensorSummaryWork
from hub.voice.service import VoiceService
from hub.wearables.discovery import HubDiscovery
from hub.wearables.service import DeviceService
from hub.web.web_services import WebServices
from memory.embedder import Embedder

logger = logging.getLogger(__name__)


class UnsafeListenError(RuntimeError):
    """Refused to listen beyond loopback without the owner's token."""


def check_listen_safety(settings: Settings) -> None:
    """Refuse to serve other machines unless every request must carry the token."""
    if not settings.require_token and not settings.listens_on_loopback:
        raise UnsafeListenError(
            f"refusing to listen on {settings.host} with HUB_REQUIRE_TOKEN off: anyone on the "
            "network could use the hub; turn the token back on or listen on 127.0.0.1"
        )


def slot_plan_for(settings: Settings, catalog: ModelCatalog, name: str) -> SlotPlan:
    """How many requests model ``name`` serves at once on this box, and each one's context
    (see slot_plan); a remote engine's local fallback decides for it."""
    from hub.engine.slot_plan import kv_shape_of, plan_slots
    from hub.models.gguf_info import read_gguf_metadata
    from hub.models.suggest import read_machine_facts

    remote = catalog.get(name).remote
    if remote is not None:
        name = remote.fallback or DEFAULT_MODEL_NAME
    path = catalog.path_for(name)
    info = catalog.info(name)
    shape = kv_shape_of(read_gguf_metadata(path)) if settings.parallel_slots == "auto" else None
    return plan_slots(
        settings.parallel_slots,
        settings.slot_context_length,
        settings.context_length,
        info.context_length,
        path.stat().st_size,
        shape,
        read_machine_facts().memory_bytes,
    )


def start_slots(settings: Settings, catalog: ModelCatalog, active: str) -> int:
    """The most requests the hub's model serves at once, planned for the model it starts with;
    1 keeps every model on the one-at-a-time path."""
    if settings.parallel_slots != "auto":
        return settings.parallel_slots
    try:
        plan = slot_plan_for(settings, catalog, active)
    except Exception as exc:  # a broken file: start_serving reports it; serve one at a time
        logger.warning("serving one request at a time: %s", exc)
        return 1
    logger.info("model %s: %d slot(s): %s", active, plan.slots, plan.reason)
    return plan.slots


def llama_loader(
    settings: Settings, catalog: ModelCatalog, placement: CpuPlacement, slots: int = 1
) -> ModelLoader:
    """Load catalog models with llama.cpp, each in its own child process (see model_process),
    using the hub's thread and context settings, on the model's CPUs; a remote engine is a
    client of its server. With ``slots`` above 1 each model serves as many requests at once
    as its own plan allows (see slot_plan), at most ``slots``."""
    from hub.engine.model_process import ModelProcess, ModelSpec
    from hub.engine.parallel_process import ParallelModelProcess
    from hub.engine.remote_model import RemoteChatModel

    cpus = placement.model if placement.split else None

    def load(name: str) -> ChatModel:
        remote = catalog.get(name).remote
        if remote is not None:  # an OpenAI-compatible server the person added
            return RemoteChatModel(name, remote, remote.fallback or DEFAULT_MODEL_NAME)
        path = catalog.path_for(name)
        info = catalog.info(name)
        workers = catalog.get(name).workers
        if slots > 1:
            # Even a model whose plan is one slot takes the parallel path here: the runner
            # calls it from several threads at once, which only that path allows.
            plan = slot_plan_for(settings, catalog, name)
            logger.info("model %s: %d slot(s): %s", name, plan.slots, plan.reason)
            spec = ModelSpec(name, path, info, plan.slot_context, settings.threads, cpus, workers)
            return ParallelModelProcess(
                spec, max(1, min(plan.slots, slots)), settings.model_stall_timeout
            )
        spec = ModelSpec(name, path, info, settings.context_length, settings.threads, cpus, workers)
        return ModelProcess(spec, settings.model_stall_timeout)

    return load


@dataclass(frozen=True)
class Hub:
    """Every service of one hub. ``memory`` and ``voice`` are None only when the settings turn
    them off (``memory_enabled``, ``voice_enabled``); everything else always exists."""

    settings: Settings
    catalog: ModelCatalog
    placement: CpuPlacement
    runner: ModelRunner
    metrics: HubMetrics
    owner_token: OwnerToken
    clients: SqliteClientStore
    web: WebServices
    memory: MemoryService | None
    housekeeping: HousekeepingService | None  # None when memory is off
    chat: ChatTurns
    devices: DeviceService
    bridges: BridgeService
    imports: ImportJobs
    omi: OmiBridge
    voice: VoiceService | None
    personalization: PersonalizationService
    disk_space: DiskSpaceGuard
    pulls: ModelPulls


def build_hub(
    settings: Settings, loader: ModelLoader | None = None, embedder: Embedder | None = None
) -> Hub:
    """Build every service (opening databases, loading nothing heavy yet); ``loader`` and
    ``embedder`` replace llama.cpp and the embedding model in unit tests."""
    check_listen_safety(settings)
    ensure_data_dir(settings.data_dir)
    catalog = ModelCatalog(settings.data_dir)
    active = settings.model or catalog.active_name()
    catalog.get(active)  # an unknown saved or configured model fails here, saying which exist
    placement = plan_placement(settings.model_cpus, settings.threads, available_cpus())
    served = ServedAdapters(registry_for(settings.data_dir), catalog)
    if loader is None:
        slots = start_slots(settings, catalog, active)
        loader = llama_loader(settings, catalog, placement, slots)
    else:  # a test's model: auto sizing needs a GGUF file, so one at a time unless told
        slots = 1 if settings.parallel_slots == "auto" else settings.parallel_slots
    runner = ModelRunner(
        loader,
        active,
        settings.max_queue,
        settings.max_loaded_models,
        adapter_resolver=served.adapter_for,
        slots=slots,
    )
    metrics = HubMetrics(lambda: runner.queue_depth, lambda: runner.busy, runner.engine_load)
    web = WebServices.open(settings.data_dir, settings.sign_in_global_free_failures)
    # Read before the embedder loads: it switches huggingface_hub offline in this process.
    pulls = ModelPulls(settings.data_dir, ModelHubAccess.from_environment())
    memory = open_memory(settings, embedder) if settings.memory_enabled else None
    chat = ChatTurns(runner, catalog, memory, metrics, settings.default_max_tokens)
    disk_space = DiskSpaceGuard(settings.data_dir, settings.min_free_disk_mb * MB)
    devices = DeviceService.open(
        settings.data_dir,
        settings.device_queue_frames,
        settings.device_raw_retention_days,
        handshake_timeout=settings.device_handshake_timeout,
        max_samples_per_second=settings.device_max_samples_per_second,
        max_bytes_per_second=settings.device_max_bytes_per_second,
        queue_bytes=settings.device_queue_bytes,
        pairing_timeout=settings.device_pairing_timeout,
        max_waiting_to_pair=settings.device_max_waiting_to_pair,
        max_unauthenticated=settings.device_max_unauthenticated_links,
        disk_space=disk_space,
        max_clock_ahead_s=settings.device_max_clock_ahead_hours * 3600,
        media_bytes_per_day=settings.device_media_mb_per_day * MB,
    )
    voice = None
    if settings.voice_enabled:
        store = memory.store if memory is not None else None
        voice = VoiceService.create(settings, chat, store, devices, runner.activity)
    personalization = PersonalizationService(
        settings,
        served,
        runner,
        web.conversations.database,
        placement.everything if placement.split else None,  # training may use every CPU
        memory.embedder if memory is not None else None,
    )
    bridges = BridgeService(devices)
    return Hub(
        settings=settings,
        catalog=catalog,
        placement=placement,
        runner=runner,
        metrics=metrics,
        owner_token=OwnerToken(settings.data_dir),
        clients=SqliteClientStore.open(settings.data_dir),
        web=web,
        memory=memory,
        housekeeping=(
            HousekeepingService(memory.housekeeping, settings, runner)
            if memory is not None and memory.housekeeping is not None
            else None
        ),
        chat=chat,
        devices=devices,
        bridges=bridges,
        imports=ImportJobs(
            bridges,
            settings.data_dir,
            settings.import_max_bytes,
            placement.everything if placement.split else None,  # the reader may use every CPU
        ),
        omi=OmiBridge.create(devices, memory.store if memory is not None else None, voice),
        voice=voice,
        personalization=personalization,
        disk_space=disk_space,
        pulls=pulls,
    )


@asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[None]:
    """Start every service in order (the model first), and stop them in reverse on the way
    out, whether the hub stops cleanly or a start fails half way."""
    settings, runner = hub.settings, hub.runner
    async with AsyncExitStack() as stack:
        stack.callback(gc.unfreeze)  # last: a process that builds another hub can collect this
        stack.push_async_callback(runner.close)
        stack.push_async_callback(hub.web.close)
        stack.push_async_callback(asyncio.to_thread, hub.clients.close)
        if hub.memory is not None:
            stack.push_async_callback(asyncio.to_thread, hub.memory.close)
        stack.push_async_callback(hub.personalization.close)
        stack.push_async_callback(hub.pulls.close)
        # A model that fails to load must not stop the hub: memory and devices serve anyway.
        status = await runner.start_serving(DEFAULT_MODEL_NAME)
        logger.info("hub ready; model %s (%s)", status.serving, status.state)
        stack.push_async_callback(MemoryWork.start(hub.memory, runner).stop)
        stack.push_async_callback(NightlySchedule.start(hub.personalization, runner.activity).stop)
        if hub.housekeeping is not None:
            stack.push_async_callback(hub.housekeeping.close)
        schedule = start_housekeeping_schedule(hub.housekeeping, runner.activity)
        stack.push_async_callback(schedule.stop)
        hub.devices.start()
        stack.push_async_callback(hub.devices.close)
        hub.imports.start()
        stack.push_async_callback(hub.imports.close)  # before the devices close: pushed after
        if settings.mdns_enabled:
            discovery = await HubDiscovery.start(settings, hub.devices)
            if discovery is not None:
                stack.push_async_callback(discovery.stop)
        store = hub.memory.store if hub.memory is not None else None
        summaries = SensorSummaryWork.start(store, hub.devices, runner.activity)
        stack.push_async_callback(summaries.stop)
        if hub.voice is not None:
            hub.devices.add_listeners(hub.voice.listeners())
            # The speech thread stops last: the pipelines and links stopping may still wait on it.
            stack.push_async_callback(asyncio.to_thread, hub.voice.engines.close)
            stack.push_async_callback(hub.voice.close)
            await hub.voice.start()
        stack.push_async_callback(hub.omi.close)  # before the voice pipeline it uses
        if settings.ble_enabled:  # after voice: an Omi pendant's audio goes to its pipeline
            audio = hub.voice.audio if hub.voice is not None else None
            ble = await BleBridges.start(hub.bridges, audio)
            if ble is not None:
                stack.push_async_callback(ble.stop)
        # Everything loaded so far (libraries, models) lives as long as the hub: keep it out of
        # the garbage collector's full passes, which otherwise pause every request and device
        # link for a fifth of a second while they scan it (bench/bench_devices.py showed it).
        gc.collect()
        gc.freeze()
        yield
