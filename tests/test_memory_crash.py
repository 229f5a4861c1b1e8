"""A writer killed with SIGKILL mid-write leaves a consistent store: SQLite is the truth and
the vector index is rebuilt from it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from memory.fake_embedder import HashingEmbedder
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from memory.fake_embedder import HashingEmbedder
    from memory.sqlite_store import SqliteMemoryStore
    from memory.types import MemoryPatch, NewMemory

    store = SqliteMemoryStore(Path(sys.argv[1]), HashingEmbedder())
    n = 0
    while True:
        long = " ".join(f"word{n}x{i}" for i in range(400))  # several chunks per item
        items = store.add_many([NewMemory(f"note {n} a"), NewMemory(long, kind="document")])
        for item in items:
            print(item.id, flush=True)  # acknowledged: the transaction has committed
        store.update(items[0].id, MemoryPatch(text=f"note {n} changed"))
        if n % 3 == 0:
            store.forget(items[1].id)
            print("forgot", items[1].id, flush=True)
        n += 1
    """
)


def test_sigkill_mid_write_leaves_the_store_consistent(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    acknowledged: list[str] = []
    forgotten: set[str] = set()
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        line = child.stdout.readline().split()
        if line and line[0] == "forgot":
            forgotten.add(line[1])
        elif line:
            acknowledged.append(line[0])
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(acknowledged) >= 60

    store = SqliteMemoryStore(path, HashingEmbedder())
    try:
        for memory_id in acknowledged:
            if memory_id not in forgotten:
                store.get(memory_id)  # every acknowledged write survived
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
            chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            assert conn.execute("SELECT count(*) FROM vectors").fetchone() == (chunks,)
            assert conn.execute(
                "SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM chunks)"
            ).fetchone() == (0,)
            assert conn.execute(
                "SELECT count(*) FROM chunks WHERE item_id NOT IN (SELECT id FROM items)"
            ).fetchone() == (0,)
        progress = store.reembed_progress()
        assert progress.done == progress.total == chunks
        added = store.add(NewMemory("written after the crash"))
        assert store.search("written after the crash", k=1)[0].item.id == added.id
    finally:
        store.close()
