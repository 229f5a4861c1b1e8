"""HousekeepingLedger: the SQL of housekeeping's own tables (the saved policy, runs, batches)
and the sizes per kind; callers hold the store's lock (and a transaction when writing)."""

from __future__ import annotations

import sqlite3
from typing import Any

from memory.housekeeping_types import Batch, KindSize, Policy, Run

BATCH_COLUMNS = (
    "id, run_id, kind, source, device, day, action, summary_id, items, bytes, held_at, "
    "purge_after, state"
)
RUN_COLUMNS = "id, started_at, finished_at, trigger, batches, items, summaries, purged, error"


def _batch(row: tuple[Any, ...]) -> Batch:
    return Batch(*row)


class HousekeepingLedger:
    """Reads and writes housekeeping_policy, housekeeping_runs and housekeeping_batches."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # ----- the saved policy ------------------------------------------------------------------

    def saved_policies(self) -> dict[str, Policy]:
        """The policy the person saved per kind (kinds never saved are left out)."""
        rows = self.conn.execute(
            "SELECT kind, action, after_days FROM housekeeping_policy"
        ).fetchall()
        return {row[0]: Policy(row[0], row[1], int(row[2])) for row in rows}

    def save_policy(self, policy: Policy) -> None:
        """Save one kind's policy over any saved before."""
        self.conn.execute(
            "INSERT INTO housekeeping_policy (kind, action, after_days) VALUES (?, ?, ?) "
            "ON CONFLICT(kind) DO UPDATE SET action = excluded.action, "
            "after_days = excluded.after_days",
            (policy.kind, policy.action, policy.after_days),
        )

    # ----- runs ------------------------------------------------------------------------------

    def add_run(self, run_id: str, started_at: str, trigger: str) -> None:
        """Record that a run started."""
        self.conn.execute(
            "INSERT INTO housekeeping_runs (id, started_at, trigger) VALUES (?, ?, ?)",
            (run_id, started_at, trigger),
        )

    def count_batch(self, run_id: str, items: int, summary: bool) -> None:
        """Add one compacted batch to its run's counts (in the batch's own transaction)."""
        self.conn.execute(
            "UPDATE housekeeping_runs SET batches = batches + 1, items = items + ?, "
            "summaries = summaries + ? WHERE id = ?",
            (items, int(summary), run_id),
        )

    def finish_run(self, run_id: str, finished_at: str, purged: int, error: str | None) -> None:
        """Record how a run ended."""
        self.conn.execute(
            "UPDATE housekeeping_runs SET finished_at = ?, purged = purged + ?, error = ? "
            "WHERE id = ?",
            (finished_at, purged, error, run_id),
        )

    def end_interrupted(self, at: str, error: str) -> int:
        """Close runs a stopped process left unfinished; how many there were."""
        cursor = self.conn.execute(
            "UPDATE housekeeping_runs SET finished_at = ?, error = ? WHERE finished_at IS NULL",
            (at, error),
        )
        return int(cursor.rowcount)

    def runs(self, limit: int) -> list[Run]:
        """The latest runs, newest first, with how many of their batches undo can bring back."""
        rows = self.conn.execute(
            f"SELECT {RUN_COLUMNS}, (SELECT count(*) FROM housekeeping_batches b "
            "WHERE b.run_id = r.id AND b.state = 'held') FROM housekeeping_runs r "
            "ORDER BY started_at DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [Run(*row) for row in rows]

    def run_exists(self, run_id: str) -> bool:
        """True when a run with this id was recorded."""
        found = self.conn.execute("SELECT 1 FROM housekeeping_runs WHERE id = ?", (run_id,))
        return found.fetchone() is not None

    # ----- batches ---------------------------------------------------------------------------

    def add_batch(self, batch: Batch) -> None:
        """Record a compacted batch."""
        marks = ",".join("?" * 13)
        self.conn.execute(
            f"INSERT INTO housekeeping_batches ({BATCH_COLUMNS}) VALUES ({marks})",
            (
                batch.id,
                batch.run_id,
                batch.kind,
                batch.source,
                batch.device,
                batch.day,
                batch.action,
                batch.summary_id,
                batch.items,
                batch.bytes,
                batch.held_at,
                batch.purge_after,
                batch.state,
            ),
        )

    def batch(self, batch_id: str) -> Batch | None:
        """One batch by id."""
        row = self.conn.execute(
            f"SELECT {BATCH_COLUMNS} FROM housekeeping_batches WHERE id = ?", (batch_id,)
        ).fetchone()
        return _batch(row) if row else None

    def batches_of_run(self, run_id: str, state: str) -> list[Batch]:
        """A run's batches in one state."""
        rows = self.conn.execute(
            f"SELECT {BATCH_COLUMNS} FROM housekeeping_batches WHERE run_id = ? AND state = ? "
            "ORDER BY day, id",
            (run_id, state),
        ).fetchall()
        return [_batch(row) for row in rows]

    def due_batches(self, now: str) -> list[Batch]:
        """Held batches whose grace period has ended."""
        rows = self.conn.execute(
            f"SELECT {BATCH_COLUMNS} FROM housekeeping_batches WHERE state = 'held' "
            "AND purge_after <= ? ORDER BY purge_after, id",
            (now,),
        ).fetchall()
        return [_batch(row) for row in rows]

    def held_batch_of_summary(self, summary_id: str) -> list[Batch]:
        """The held batches a summary stands for."""
        rows = self.conn.execute(
            f"SELECT {BATCH_COLUMNS} FROM housekeeping_batches WHERE summary_id = ? "
            "AND state = 'held'",
            (summary_id,),
        ).fetchall()
        return [_batch(row) for row in rows]

    def set_state(self, batch_id: str, state: str) -> None:
        """Mark a batch undone or purged."""
        self.conn.execute(
            "UPDATE housekeeping_batches SET state = ? WHERE id = ?", (state, batch_id)
        )

    # ----- held items ------------------------------------------------------------------------

    def hold(self, item_id: str, batch_id: str, kind: str, size: int, payload: str) -> None:
        """Keep a raw item's whole record out of search until its batch is purged or undone."""
        self.conn.execute(
            "INSERT INTO held_items (item_id, batch_id, kind, bytes, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, batch_id, kind, size, payload),
        )

    def held_payloads(self, batch_id: str) -> list[str]:
        """The records a batch holds."""
        rows = self.conn.execute(
            "SELECT payload FROM held_items WHERE batch_id = ? ORDER BY item_id", (batch_id,)
        ).fetchall()
        return [str(row[0]) for row in rows]

    def drop_held(self, batch_id: str) -> int:
        """Delete a batch's held records (secure_delete overwrites their bytes)."""
        cursor = self.conn.execute("DELETE FROM held_items WHERE batch_id = ?", (batch_id,))
        return int(cursor.rowcount)

    # ----- sizes -----------------------------------------------------------------------------

    def sizes(self, vector_bytes: int) -> list[KindSize]:
        """Items and bytes per kind (text, metadata, and each chunk's text and vector), and the
        items held for undo; one pass over the items and one over the chunks."""
        items = {
            row[0]: (int(row[1]), int(row[2]))
            for row in self.conn.execute(
                "SELECT kind, count(*), coalesce(sum(length(CAST(text AS BLOB)) "
                "+ length(coalesce(metadata, ''))), 0) FROM items GROUP BY kind"
            )
        }
        chunks = {
            row[0]: int(row[1])
            for row in self.conn.execute(
                "SELECT i.kind, coalesce(sum(length(CAST(c.text AS BLOB)) + ?), 0) "
                "FROM chunks c JOIN items i ON i.id = c.item_id GROUP BY i.kind",
                (vector_bytes,),
            )
        }
        held = {
            row[0]: (int(row[1]), int(row[2]))
            for row in self.conn.execute(
                "SELECT kind, count(*), coalesce(sum(bytes), 0) FROM held_items GROUP BY kind"
            )
        }
        kinds = sorted(set(items) | set(held))
        return [
            KindSize(
                kind,
                items.get(kind, (0, 0))[0],
                items.get(kind, (0, 0))[1] + chunks.get(kind, 0),
                held.get(kind, (0, 0))[0],
                held.get(kind, (0, 0))[1],
            )
            for kind in kinds
        ]
