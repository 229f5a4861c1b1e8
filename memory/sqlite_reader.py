"""SqliteMemoryReader: memory.db opened read-only, beside whichever process writes it.

For readers that need the memories but not search (the personalization run, in the hub or in
the CLI alone): no embedder, no vector index, no migrations, and no way to change a thing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from memory.tables import MemoryTables
from memory.types import MemoryItem
from memory.validation import check_kind


class SqliteMemoryReader:
    """Read-only access to a memory store's items; thread-safe."""

    def __init__(self, path: Path) -> None:
        # mode=ro: SQLite refuses any write; the writer's WAL is still read, so a reader sees
        # every committed memory.
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._tables = MemoryTables(self._conn, model="")
        self._lock = threading.Lock()

    def items_of_kinds(self, kinds: Sequence[str]) -> list[MemoryItem]:
        """Every memory of these kinds with its times, oldest stored first."""
        wanted = [check_kind(kind, "kinds") for kind in kinds]
        with self._lock:
            return self._tables.items_of_kinds(wanted)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteMemoryReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
