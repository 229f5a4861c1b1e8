"""The Ollama-compatible API's model and embedding endpoints: /api/tags, /api/ps, /api/show,
/api/version, /api/pull (for models the hub has), /api/embed and /api/embeddings.

A client program needs the ``models:read`` or ``chat`` scope to list models, and ``chat`` to
embed; the owner may do everything. Errors are Ollama's ``{"error": "..."}``
(hub.api.errors).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from hub.api.deps import HubDep, MemoryDep
from hub.api.errors import HubAPIError
from hub.api.ollama_format import (
    capabilities_of,
    hub_name,
    iso_time,
    model_details,
    model_out,
)
from hub.api.ollama_schemas import (
    ModelNameIn,
    OllamaEmbeddingOut,
    OllamaEmbeddingsIn,
    OllamaEmbedIn,
    OllamaEmbedOut,
    OllamaPsOut,
    OllamaRunningModelOut,
    OllamaShowOut,
    OllamaStatusOut,
    OllamaTagsOut,
    OllamaVersionOut,
)
from hub.api.routes_embeddings import checked_texts
from hub.api.scopes import require_scope
from hub.api.sse import NdjsonStream, ndjson
from hub.models.catalog import ModelListing
from memory.embedder import Embedder

# The Ollama API level this hub answers like; clients compare it to decide what to send.
OLLAMA_API_VERSION = "0.12.0"
# Ollama unloads an idle model after keep_alive; the hub keeps its models loaded.
KEPT_LOADED = timedelta(days=365)

router = APIRouter(
    prefix="/api",
    tags=["ollama"],
    dependencies=[Depends(require_scope("models:read", "chat"))],
)
embed_router = APIRouter(
    prefix="/api", tags=["ollama"], dependencies=[Depends(require_scope("chat"))]
)


async def _listing(hub: HubDep, requested: str) -> ModelListing:
    listings = await asyncio.to_thread(hub.catalog.listing)
    name = hub_name(requested, [row.entry.name for row in listings])
    return next(row for row in listings if row.entry.name == name)


@router.get("/version")
async def read_version() -> OllamaVersionOut:
    """The Ollama API version this hub answers like."""
    return OllamaVersionOut(version=OLLAMA_API_VERSION)


@router.get("/tags")
async def list_tags(hub: HubDep) -> OllamaTagsOut:
    """Every model the hub can serve, named name:latest."""
    listings = await asyncio.to_thread(hub.catalog.listing)
    return OllamaTagsOut(models=[model_out(row) for row in listings if row.error is None])


@router.get("/ps")
async def list_running(hub: HubDep) -> OllamaPsOut:
    """The models in memory now."""
    loaded = set(hub.runner.loaded_models())
    listings = await asyncio.to_thread(hub.catalog.listing)
    until = iso_time((datetime.now(UTC) + KEPT_LOADED).timestamp())
    return OllamaPsOut(
        models=[
            OllamaRunningModelOut(
                **model_out(row).model_dump(),
                expires_at=until,
                size_vram=0,
                context_length=min(
                    hub.settings.context_length,
                    row.info.context_length if row.info else hub.settings.context_length,
                ),
            )
            for row in listings
            if row.entry.name in loaded
        ]
    )


@router.post("/show")
async def show_model(body: ModelNameIn, hub: HubDep) -> OllamaShowOut:
    """One model in detail: its chat template, context and what it can do."""
    row = await _listing(hub, body.model_name())
    info, listed = row.info, model_out(row)
    context = info.context_length if info else 0
    architecture = info.architecture if info else "unknown"
    return OllamaShowOut(
        modelfile=f"# Served by the Walking NAS hub\nFROM {row.entry.name}\n",
        parameters=f"num_ctx {min(hub.settings.context_length, context or 1 << 30)}",
        template=(info.chat_template or "") if info else "",
        license="",
        details=model_details(row),
        model_info={
            "general.architecture": architecture,
            "general.name": info.display_name if info else row.entry.name,
            f"{architecture}.context_length": context,
        },
        capabilities=capabilities_of(row),
        modified_at=listed.modified_at,
    )


PULLED = [OllamaStatusOut(status="pulling manifest"), OllamaStatusOut(status="success")]


@router.post(
    "/pull",
    response_model=OllamaStatusOut,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def pull_model(body: ModelNameIn, hub: HubDep) -> Response:
    """Answers 'success' for a model the hub has (it downloads nothing); 404 for any other."""
    await _listing(hub, body.model_name())
    if not body.stream:
        return Response(PULLED[-1].model_dump_json(), media_type="application/json")
    return NdjsonStream(iter([ndjson(line) for line in PULLED]))


def _embedder_for(requested: str, embedder: Embedder) -> None:
    name, _, tag = requested.strip().lower().partition(":")
    if tag in ("", "latest") and name.split("/")[-1] in (embedder.name.lower(), "default"):
        return
    raise HubAPIError(
        404,
        f"no embedding model {requested!r}; this hub embeds with {embedder.name.lower()}:latest",
        code="model_not_found",
        param="model",
    )


def _token_count(embedder: Embedder, texts: list[str]) -> int:
    count = getattr(embedder, "count_tokens", None)
    return sum(count(text) for text in texts) if count else sum(len(t.split()) for t in texts)


@embed_router.post("/embed")
async def create_embed(body: OllamaEmbedIn, memory: MemoryDep) -> OllamaEmbedOut:
    """Embed text with the hub's embedding model (unit-length vectors); long texts are read
    up to the model's limit."""
    started = time.monotonic_ns()
    embedder = memory.embedder
    _embedder_for(body.model, embedder)
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise HubAPIError(
            400,
            f"{embedder.name} makes {embedder.dimension}-dimensional vectors; leave out dimensions",
            param="dimensions",
        )
    texts = checked_texts([body.input] if isinstance(body.input, str) else list(body.input))
    vectors = await asyncio.to_thread(embedder.embed, texts)
    tokens = await asyncio.to_thread(_token_count, embedder, texts)
    return OllamaEmbedOut(
        model=body.model,
        embeddings=[vector.tolist() for vector in vectors],
        total_duration=time.monotonic_ns() - started,
        load_duration=0,
        prompt_eval_count=tokens,
    )


@embed_router.post("/embeddings")
async def create_embedding(body: OllamaEmbeddingsIn, memory: MemoryDep) -> OllamaEmbeddingOut:
    """Embed one text (the older form of /api/embed)."""
    _embedder_for(body.model, memory.embedder)
    texts = checked_texts([body.prompt])
    vectors = await asyncio.to_thread(memory.embedder.embed, texts)
    return OllamaEmbeddingOut(embedding=vectors[0].tolist())
