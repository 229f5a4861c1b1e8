"""/v1/memory: add, read, change, forget and search what the hub remembers."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.api.auth import require_owner
from hub.api.deps import MemoryDep, require_disk_space
from hub.api.errors import HubAPIError
from hub.api.memory_schemas import (
    AppliedTimeRange,
    MemoryBatchIn,
    MemoryDeletedOut,
    MemoryHitOut,
    MemoryIdsOut,
    MemoryImportOut,
    MemoryIn,
    MemoryListOut,
    MemoryOut,
    MemoryPatchIn,
    MemorySearchIn,
    MemorySearchOut,
    MemoryStatusOut,
    MemoryWithHistoryOut,
    NoTimeRange,
    ReembeddingOut,
    VectorIndexOut,
)
from hub.api.scopes import require_scope
from memory.time_phrases import find_time_range, strip_phrase
from memory.types import MemoryPatch, NewMemory, SearchFilters

router = APIRouter(prefix="/v1", tags=["memory"], dependencies=[Depends(require_owner)])
# Searching is a client's right too, with the memory:read scope (everything else is the owner's).
search_router = APIRouter(
    prefix="/v1", tags=["memory"], dependencies=[Depends(require_scope("memory:read"))]
)
# Writes that store more are refused (507) while the disk is nearly full; deleting never is.
STORES_MORE = [Depends(require_disk_space)]

JSONL = "application/x-ndjson"
# The export format as a request or answer body: a header line, then one memory a line.
JSONL_CONTENT: dict[str, Any] = {JSONL: {"schema": {"type": "string"}}}


def _new(body: MemoryIn) -> NewMemory:
    return NewMemory(
        text=body.text,
        kind=body.kind,
        source=body.source,
        happened_at=body.happened_at,
        metadata=body.metadata,
        pinned=body.pinned,
    )


@router.post("/memory", dependencies=STORES_MORE)
async def create_memory(body: MemoryIn, memory: MemoryDep) -> MemoryOut:
    """Remember one thing; answers with its id."""
    item = await asyncio.to_thread(memory.store.add, _new(body))
    return MemoryOut.from_domain(item)


@router.post("/memory/batch", dependencies=STORES_MORE)
async def create_memories(body: MemoryBatchIn, memory: MemoryDep) -> MemoryIdsOut:
    """Remember several things in one transaction."""
    items = await asyncio.to_thread(memory.store.add_many, [_new(b) for b in body.items])
    return MemoryIdsOut(ids=[item.id for item in items])


@router.get("/memory")
async def list_memories(
    memory: MemoryDep, kind: str | None = None, limit: int = 50, offset: int = 0
) -> MemoryListOut:
    """A page of memories, newest first."""
    filters = SearchFilters(kinds=(kind,) if kind else ())
    items, total = await asyncio.to_thread(memory.store.list_items, filters, limit, offset)
    return MemoryListOut(data=[MemoryOut.from_domain(item) for item in items], total=total)


@router.get("/memory/status")
async def read_memory_status(memory: MemoryDep) -> MemoryStatusOut:
    """How many memories there are, the embedding model, re-embedding and extraction queues."""
    status = await asyncio.to_thread(memory.status)
    return MemoryStatusOut(
        items=status.items,
        embedding_model=status.embedding_model,
        embedder_ready=status.embedder_ready,
        reembedding=ReembeddingOut.from_domain(status.reembedding),
        index=VectorIndexOut.from_domain(status.index),
        fact_jobs=status.fact_jobs,
    )


@router.get(
    "/memory/export",
    response_class=Response,
    responses={
        200: {
            "content": JSONL_CONTENT,
            "description": "JSON lines: a format header, then each memory with its history.",
        }
    },
)
async def export_memories(memory: MemoryDep) -> Response:
    """Every memory with its history as JSON lines (the format `hub memory import` reads)."""
    out = io.StringIO()
    await asyncio.to_thread(memory.store.export_jsonl, out)
    return Response(out.getvalue(), media_type=JSONL)


@router.post(
    "/memory/import",
    dependencies=STORES_MORE,
    openapi_extra={"requestBody": {"required": True, "content": JSONL_CONTENT}},
)
async def import_memories(request: Request, memory: MemoryDep) -> MemoryImportOut:
    """Read an export (header line included) from the body; ids already present are skipped."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HubAPIError(400, "the import is not UTF-8 text; send a file made by export") from exc
    report = await asyncio.to_thread(memory.store.import_jsonl, io.StringIO(text))
    return MemoryImportOut(added=report.added, skipped=report.skipped)


@router.get("/memory/{memory_id}")
async def read_memory(
    memory_id: str, memory: MemoryDep, history: bool = False
) -> MemoryWithHistoryOut:
    """One memory; with ``?history=true`` its change history too."""
    store = memory.store
    item = await asyncio.to_thread(store.get, memory_id)
    entries = await asyncio.to_thread(store.history, memory_id) if history else None
    return MemoryWithHistoryOut.with_history(item, entries)


@router.patch("/memory/{memory_id}", dependencies=STORES_MORE)
async def update_memory(memory_id: str, body: MemoryPatchIn, memory: MemoryDep) -> MemoryOut:
    """Change a memory; a new text is re-embedded."""
    patch = MemoryPatch(**body.model_dump())
    return MemoryOut.from_domain(await asyncio.to_thread(memory.store.update, memory_id, patch))


@router.delete("/memory/{memory_id}")
async def delete_memory(memory_id: str, memory: MemoryDep) -> MemoryDeletedOut:
    """Forget a memory and the facts derived from it, leaving no trace."""
    removed = await asyncio.to_thread(memory.store.forget, memory_id)
    return MemoryDeletedOut(id=memory_id, deleted=True, removed=removed)


@search_router.post("/memory/search")
async def search_memory(body: MemorySearchIn, memory: MemoryDep) -> MemorySearchOut:
    """Hybrid search with filters; "yesterday" or "last week" in the query narrow the time."""
    query, since, until = body.query, body.since, body.until
    applied: AppliedTimeRange | NoTimeRange = NoTimeRange()
    if body.interpret_time and since is None and until is None:
        span = find_time_range(query, datetime.now().astimezone())
        if span is not None:
            query = strip_phrase(query, span.phrase)
            since, until = span.since.isoformat(), span.until.isoformat()
            applied = AppliedTimeRange(phrase=span.phrase, since=since, until=until)
    filters = SearchFilters(
        kinds=tuple(body.kinds or ()),
        sources=tuple(body.sources or ()),
        since=since,
        until=until,
    )
    hits = await asyncio.to_thread(memory.store.search, query, body.k, filters, body.mode)
    return MemorySearchOut(results=[MemoryHitOut.from_hit(hit) for hit in hits], time=applied)
