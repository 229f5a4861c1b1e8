"""create_app: build every component of one hub once and wire the HTTP app around them."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub import __version__
from hub.api import (
    routes_chat,
    routes_completions,
    routes_conversations,
    routes_devices,
    routes_embeddings,
    routes_health,
    routes_memory,
    routes_models,
    routes_personalization,
    routes_preferences,
    routes_session,
    routes_voice,
)
from hub.api.body_limit import BodyLimitMiddleware
from hub.api.errors import install_error_handlers
from hub.api.metrics import HubMetrics, RequestMetricsMiddleware
from hub.api.services import HubServices
from hub.datadir import ensure_data_dir, ensure_owner_token
from hub.engine.chat_model import ChatModel
from hub.engine.cpu_placement import CpuPlacement, available_cpus, plan_placement
from hub.engine.runner import ModelLoader, ModelRunner
from hub.models.catalog import ModelCatalog
from hub.personalization.scheduler import NightlySchedule
from hub.personalization.service import PersonalizationService
from hub.recall.lifecycle import MemoryWork
from hub.recall.service import open_memory
from hub.settings import Settings
from hub.summaries.worker import SensorSummaryWork
from hub.voice.service import VoiceService
from hub.wearables.discovery import HubDiscovery
from hub.wearables.service import DeviceService
from hub.web.ui import install_web_ui
from hub.web.web_services import WebServices

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


def llama_loader(settings: Settings, catalog: ModelCatalog, placement: CpuPlacement) -> ModelLoader:
    """Load catalog models with llama.cpp, each in its own child process (see model_process),
    using the hub's thread and context settings, on the model's CPUs."""
    from hub.engine.model_process import ModelProcess, ModelSpec

    cpus = placement.model if placement.split else None

    def load(name: str) -> ChatModel:
        path = catalog.path_for(name)
        info = catalog.info(name)
        return ModelProcess(
            ModelSpec(name, path, info, settings.context_length, settings.threads, cpus)
        )

    return load


def create_app(settings: Settings, loader: ModelLoader | None = None) -> FastAPI:
    """The hub's ASGI app; ``loader`` replaces llama.cpp in unit tests."""
    check_listen_safety(settings)
    ensure_data_dir(settings.data_dir)
    catalog = ModelCatalog(settings.data_dir)
    active = settings.model or catalog.active_name()
    catalog.get(active)
    placement = plan_placement(settings.model_cpus, settings.threads, available_cpus())
    runner = ModelRunner(
        loader or llama_loader(settings, catalog, placement),
        active,
        settings.max_queue,
        settings.max_loaded_models,
    )
    metrics = HubMetrics(lambda: runner.queue_depth, lambda: runner.busy)
    services = HubServices(
        settings=settings,
        catalog=catalog,
        runner=runner,
        metrics=metrics,
        owner_token=ensure_owner_token(settings.data_dir),
        web=WebServices.open(settings.data_dir),
        placement=placement,
        memory=open_memory(settings) if settings.memory_enabled else None,
        devices=DeviceService.open(
            settings.data_dir,
            settings.device_queue_frames,
            settings.device_raw_retention_days,
            handshake_timeout=settings.device_handshake_timeout,
            max_samples_per_second=settings.device_max_samples_per_second,
            max_bytes_per_second=settings.device_max_bytes_per_second,
        ),
    )

    if settings.voice_enabled:
        services.voice = VoiceService.create(settings, services)
        if services.devices is not None:
            services.devices.listeners.extend(services.voice.listeners())
    # Registers itself as the runner's adapter resolver, before the first model loads.
    personalization = PersonalizationService(
        settings,
        catalog,
        runner,
        services.web.conversations.database,
        placement.everything if placement.split else None,  # training may use every CPU
    )
    services.personalization = personalization

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runner.use(runner.active)
        logger.info("hub ready with model %s", runner.active)
        memory_work = MemoryWork.start(services.memory, runner)
        nightly = NightlySchedule.start(personalization, runner.activity)
        discovery = None
        if services.devices is not None:
            services.devices.start()
            if settings.mdns_enabled:
                discovery = await HubDiscovery.start(settings, services.devices)
        summaries = SensorSummaryWork.start(
            services.memory.store if services.memory else None,
            services.devices,
            runner.activity,
        )
        if services.voice is not None:
            await services.voice.start()
        # Everything loaded so far (libraries, models) lives as long as the hub: keep it out of
        # the garbage collector's full passes, which otherwise pause every request and device
        # link for a fifth of a second while they scan it (bench/bench_devices.py showed it).
        gc.collect()
        gc.freeze()
        yield
        if services.voice is not None:
            await services.voice.close()
        if discovery is not None:
            await discovery.stop()
        await summaries.stop()
        await memory_work.stop()
        if services.devices is not None:
            await services.devices.close()
        await nightly.stop()
        await personalization.close()
        await services.web.close()
        await runner.close()
        gc.unfreeze()  # a process that builds another app (tests) can collect this one

    app = FastAPI(
        title="Walking NAS hub",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    for module in (routes_health, routes_models, routes_chat, routes_completions):
        app.include_router(module.router)
    for module in (routes_session, routes_conversations, routes_preferences):
        app.include_router(module.router)
    for module in (routes_memory, routes_embeddings, routes_devices, routes_voice):
        app.include_router(module.router)
    app.include_router(routes_devices.link_router)
    app.include_router(routes_personalization.router)
    install_web_ui(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
