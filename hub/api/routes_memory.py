"""/v1/memory: add, read, change, forget and search what the hub remembers."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from hub.api.auth import require_owner
from hub.api.deps import MemoryDep
from hub.api.errors import HubAPIError
from hub.api.memory_schemas import (
    MemoryBatchIn,
    MemoryIn,
    MemoryPatchIn,
    MemorySearchIn,
)
from memory.time_phrases import find_time_range, strip_phrase
from memory.types import MemoryItem, MemoryPatch, NewMemory, SearchFilters, SearchHit

router = APIRouter(prefix="/v1", tags=["memory"], dependencies=[Depends(require_owner)])

T = TypeVar("T")


def item_object(item: MemoryItem) -> dict[str, Any]:
    """A memory as the API shows it."""
    return {"object": "memory", **item.to_dict()}


def hit_object(hit: SearchHit) -> dict[str, Any]:
    """A search result: the whole memory, the matching snippet, and why it matched."""
    return {
        **item_object(hit.item),
        "score": round(hit.score, 6),
        "similarity": None if hit.similarity is None else round(hit.similarity, 4),
        "snippet": hit.snippet,
        "vector_rank": hit.vector_rank,
        "text_rank": hit.text_rank,
    }


def _new(body: MemoryIn) -> NewMemory:
    return NewMemory(
        text=body.text,
        kind=body.kind,
        source=body.source,
        happened_at=body.happened_at,
        metadata=body.metadata,
        pinned=body.pinned,
    )


@router.post("/memory")
async def create_memory(body: MemoryIn, memory: MemoryDep) -> dict[str, Any]:
    """Remember one thing; answers with its id."""
    item = await asyncio.to_thread(memory.store.add, _new(body))
    return {"id": item.id, **item_object(item)}


@router.post("/memory/batch")
async def create_memories(body: MemoryBatchIn, memory: MemoryDep) -> dict[str, Any]:
    """Remember several things in one transaction."""
    items = await asyncio.to_thread(memory.store.add_many, [_new(b) for b in body.items])
    return {"ids": [item.id for item in items]}


@router.get("/memory")
async def list_memories(
    memory: MemoryDep, kind: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of memories, newest first."""
    filters = SearchFilters(kinds=(kind,) if kind else ())
    items, total = await asyncio.to_thread(memory.store.list_items, filters, limit, offset)
    return {"object": "list", "data": [item_object(item) for item in items], "total": total}


@router.get("/memory/status")
async def read_memory_status(memory: MemoryDep) -> dict[str, Any]:
    """How many memories there are, the embedding model, re-embedding and extraction queues."""
    progress = await asyncio.to_thread(memory.store.reembed_progress)
    _, total = await asyncio.to_thread(memory.store.list_items, None, 1, 0)
    return {
        "items": total,
        "embedding_model": memory.embedder.name,
        "reembedding": {
            "done": progress.done,
            "total": progress.total,
            "running": progress.running,
            "error": progress.error,
        },
        "fact_jobs": await asyncio.to_thread(memory.jobs.counts),
    }


@router.get("/memory/export", response_class=PlainTextResponse)
async def export_memories(memory: MemoryDep) -> PlainTextResponse:
    """Every memory with its history as JSON lines (the format `hub memory import` reads)."""
    out = io.StringIO()
    await asyncio.to_thread(memory.store.export_jsonl, out)
    return PlainTextResponse(out.getvalue(), media_type="application/x-ndjson")


@router.post("/memory/import")
async def import_memories(request: Request, memory: MemoryDep) -> dict[str, Any]:
    """Read an export (header line included) from the body; ids already present are skipped."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HubAPIError(400, "the import is not UTF-8 text; send a file made by export") from exc
    report = await asyncio.to_thread(memory.store.import_jsonl, io.StringIO(text))
    return {"added": report.added, "skipped": report.skipped}


@router.get("/memory/{memory_id}")
async def read_memory(memory_id: str, memory: MemoryDep, history: bool = False) -> dict[str, Any]:
    """One memory; with ``?history=true`` its change history too."""
    store = memory.store
    body = item_object(await asyncio.to_thread(store.get, memory_id))
    if history:
        body["history"] = [
            entry.to_dict() for entry in await asyncio.to_thread(store.history, memory_id)
        ]
    return body


@router.patch("/memory/{memory_id}")
async def update_memory(memory_id: str, body: MemoryPatchIn, memory: MemoryDep) -> dict[str, Any]:
    """Change a memory; a new text is re-embedded."""
    patch = MemoryPatch(**body.model_dump())
    return item_object(await asyncio.to_thread(memory.store.update, memory_id, patch))


@router.delete("/memory/{memory_id}")
async def delete_memory(memory_id: str, memory: MemoryDep) -> dict[str, Any]:
    """Forget a memory and the facts derived from it, leaving no trace."""
    removed = await asyncio.to_thread(memory.store.forget, memory_id)
    return {"id": memory_id, "object": "memory.deleted", "deleted": True, "removed": removed}


@router.post("/memory/search")
async def search_memory(body: MemorySearchIn, memory: MemoryDep) -> dict[str, Any]:
    """Hybrid search with filters; "yesterday" or "last week" in the query narrow the time."""
    query, since, until = body.query, body.since, body.until
    applied: dict[str, Any] = {}
    if body.interpret_time and since is None and until is None:
        span = find_time_range(query, datetime.now().astimezone())
        if span is not None:
            query = strip_phrase(query, span.phrase)
            since, until = span.since.isoformat(), span.until.isoformat()
            applied = {"phrase": span.phrase, "since": since, "until": until}
    filters = SearchFilters(
        kinds=tuple(body.kinds or ()),
        sources=tuple(body.sources or ()),
        since=since,
        until=until,
    )
    hits = await asyncio.to_thread(memory.store.search, query, body.k, filters, body.mode)
    return {"object": "list", "results": [hit_object(hit) for hit in hits], "time": applied}
