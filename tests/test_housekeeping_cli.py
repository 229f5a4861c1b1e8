"""`hub memory housekeeping` on a data directory with no hub running (the real embedder)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from memory.embedder import SentenceTransformerEmbedder
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
from memory.types import NewMemory, SearchFilters

runner = CliRunner()


def test_set_run_status_and_undo_without_a_running_hub(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = SqliteMemoryStore(data_dir / MEMORY_DB_NAME, SentenceTransformerEmbedder())
    # A morning in local time (the day a memory belongs to): a run near midnight would
    # otherwise spread the items over two days.
    old_day = datetime.now().astimezone().replace(hour=9, minute=0, second=0, microsecond=0)
    old_day -= timedelta(days=50)
    store.add_many(
        [
            NewMemory(
                f"Talked about the allotment tomatoes, row {n}",
                kind="transcript",
                source="device",
                happened_at=old_day + timedelta(minutes=n),
                metadata={"device_id": "ear-1"},
            )
            for n in range(5)
        ]
    )
    store.close()
    where = ["--data-dir", str(data_dir)]

    bad = runner.invoke(app, ["memory", "housekeeping", "set", "transcript", "shred:3", *where])
    assert bad.exit_code == 2 and "summarize:DAYS" in bad.output
    policy = ["transcript", "summarize:30", "--grace-days", "3"]
    chosen = runner.invoke(app, ["memory", "housekeeping", "set", *policy, *where])
    assert chosen.exit_code == 0, chosen.output
    assert "summarize after 30 days" in chosen.output and "for 3 days" in chosen.output

    ran = runner.invoke(app, ["memory", "housekeeping", "run", *where])
    assert ran.exit_code == 0, ran.output
    assert "1 days compacted (5 raw items out of search, 1 summaries)" in ran.output
    run_id = re.search(r"(run_[0-9a-f]+)", ran.output)
    assert run_id is not None
    shown = runner.invoke(app, ["memory", "housekeeping", "status", *where])
    assert shown.exit_code == 0 and "5 (" in shown.output and run_id.group(1) in shown.output

    undone = runner.invoke(app, ["memory", "housekeeping", "undo", run_id.group(1), *where])
    assert undone.exit_code == 0 and "1 days brought back" in undone.output
    again = runner.invoke(app, ["memory", "housekeeping", "undo", run_id.group(1), *where])
    assert again.exit_code == 1 and "holds nothing" in again.output
    store = SqliteMemoryStore(data_dir / MEMORY_DB_NAME, SentenceTransformerEmbedder())
    try:
        items, total = store.list_items(SearchFilters(kinds=("transcript",)), 10, 0)
        assert total == 5 and all("allotment" in item.text for item in items)
    finally:
        store.close()
