"""create_app: the HTTP app around one hub, built by the composition root (hub.assembly)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from hub import __version__
from hub.api import (
    routes_bridges,
    routes_chat,
    routes_clients,
    routes_completions,
    routes_conversations,
    routes_devices,
    routes_docs,
    routes_embeddings,
    routes_health,
    routes_health_auto_export,
    routes_housekeeping,
    routes_memory,
    routes_models,
    routes_nightscout,
    routes_ollama,
    routes_ollama_chat,
    routes_omi,
    routes_personalization,
    routes_preferences,
    routes_session,
    routes_token,
    routes_voice,
)
from hub.api.body_limit import BodyLimitMiddleware
from hub.api.bridge_secret import BridgeSecretMiddleware
from hub.api.bridge_secret_path import BridgeSecretPathMiddleware
from hub.api.client_prefix import ClientPrefixMiddleware
from hub.api.errors import ERROR_RESPONSES, OLLAMA_ERROR_RESPONSES, install_error_handlers
from hub.api.mcp_endpoint import McpEndpoint
from hub.api.metrics import RequestMetricsMiddleware
from hub.api.request_origin import AllowedHosts, HostCheckMiddleware, OriginCheckMiddleware
from hub.api.routes_bridges import IMPORTS_PATH
from hub.assembly import build_hub, running
from hub.engine.runner import ModelLoader
from hub.mcp_server.server import MCP_PATH
from hub.settings import Settings
from hub.web.ui import install_web_ui
from memory.embedder import Embedder

logger = logging.getLogger(__name__)

ROUTERS = (
    routes_health,
    routes_models,
    routes_chat,
    routes_completions,
    routes_session,
    routes_conversations,
    routes_preferences,
    routes_housekeeping,  # before routes_memory: /memory/housekeeping is no memory's id
    routes_memory,
    routes_embeddings,
    routes_devices,
    routes_voice,
    routes_personalization,
    routes_token,
    routes_clients,
    routes_bridges,
    routes_omi,
    routes_health_auto_export,
)


def create_app(
    settings: Settings, loader: ModelLoader | None = None, embedder: Embedder | None = None
) -> FastAPI:
    """The hub's ASGI app; ``loader`` and ``embedder`` replace the real models in unit tests."""
    hub = build_hub(settings, loader, embedder)
    mcp = McpEndpoint(hub)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(hub), mcp.running():
            yield

    app = FastAPI(
        title="Walking NAS hub",
        version=__version__,
        lifespan=lifespan,
        # /docs and /openapi.json are the owner's (hub.api.routes_docs); ReDoc is not served.
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    install_error_handlers(app)
    for module in ROUTERS:  # every route documents the one error shape (hub.api.errors)
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(routes_memory.search_router, responses=ERROR_RESPONSES)
    app.include_router(routes_devices.read_router, responses=ERROR_RESPONSES)
    for ollama in (routes_ollama.router, routes_ollama.embed_router, routes_ollama_chat.router):
        app.include_router(ollama, responses=OLLAMA_ERROR_RESPONSES)
    app.include_router(routes_devices.link_router)
    app.include_router(routes_nightscout.router)  # Nightscout's error shape (hub.api.errors)
    app.include_router(routes_docs.router)
    # An ASGI endpoint of its own (the SDK answers MCP), behind the hub's middleware.
    app.router.routes.append(
        Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
    install_web_ui(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        uploads={IMPORTS_PATH: settings.import_max_bytes},
    )
    # Added last runs first: the metrics count every answer, then the name the request was
    # sent to is checked, then the page that sent it, before any body is read.
    allowed = AllowedHosts.of(settings.allowed_hosts)
    app.add_middleware(OriginCheckMiddleware, allowed=allowed)
    app.add_middleware(HostCheckMiddleware, allowed=allowed)
    app.add_middleware(RequestMetricsMiddleware, metrics=hub.metrics)
    # A bridge's secret in its URL (?token=) leaves the query before the access log sees it.
    app.add_middleware(BridgeSecretMiddleware)
    # Outermost: /c/<credential>/ leaves the path before anything (the access log too) sees it.
    app.add_middleware(ClientPrefixMiddleware, hub=hub)
    # As outermost: a bridge's secret leaves /bridges/omi/<secret>/... the same way.
    app.add_middleware(BridgeSecretPathMiddleware)
    return app
