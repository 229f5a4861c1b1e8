"""Gather the person's own data for a run: conversations (with feedback), facts, notes and
transcripts, as the plain inputs the adapters package learns from."""

from __future__ import annotations

from pathlib import Path

from adapters.examples import PersonInputs, SourceConversation, SourceMessage, SourceText
from memory.sqlite_database import LockedDatabase
from memory.sqlite_reader import SqliteMemoryReader
from memory.sqlite_store import MEMORY_DB_NAME
from memory.timestamps import to_epoch

LEARNED_KINDS = ("fact", "note", "transcript")


def collect_conversations(database: LockedDatabase) -> list[SourceConversation]:
    """Every stored conversation with its messages and the person's feedback."""
    with database.reading() as db:
        heads = db.execute("SELECT id, updated_at, learn FROM conversations ORDER BY id").fetchall()
        rows = db.execute(
            "SELECT conversation_id, role, content, rating, edited_content FROM messages "
            "WHERE stopped = 0 OR role = 'user' ORDER BY conversation_id, id"
        ).fetchall()
    messages: dict[int, list[SourceMessage]] = {}
    for conversation_id, role, content, rating, edited in rows:
        messages.setdefault(int(conversation_id), []).append(
            SourceMessage(role, content, rating, edited)
        )
    return [
        SourceConversation(
            id=f"conversation-{conversation_id}",
            messages=messages.get(int(conversation_id), []),
            updated_at=float(updated_at),
            excluded=not bool(learn),
        )
        for conversation_id, updated_at, learn in heads
    ]


def collect_memory_texts(data_dir: Path) -> list[SourceText]:
    """Facts, notes and transcripts from memory.db, read-only (memory may be switched off)."""
    path = data_dir / MEMORY_DB_NAME
    if not path.exists():
        return []
    with SqliteMemoryReader(path) as memory:
        items = memory.items_of_kinds(LEARNED_KINDS)
    return [
        SourceText(
            id=item.id,
            kind=item.kind,
            text=item.text,
            stored_at=to_epoch(item.stored_at),
            happened_at=item.happened_at,
        )
        for item in items
    ]


def collect_inputs(conversations: LockedDatabase, data_dir: Path) -> PersonInputs:
    """Everything a run may learn from."""
    return PersonInputs(collect_conversations(conversations), collect_memory_texts(data_dir))


def count_new(inputs: PersonInputs, since: float) -> int:
    """How many conversations and memories changed after ``since`` (seconds since the epoch)."""
    changed = sum(1 for c in inputs.conversations if c.updated_at > since and not c.excluded)
    return changed + sum(1 for t in inputs.texts if t.stored_at > since)
