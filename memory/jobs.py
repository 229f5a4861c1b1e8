"""A durable queue of fact-extraction jobs kept in the memory database."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

from memory.timestamps import to_stored, utc_now

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class FactJob:
    """Extract facts from one memory (a message the person sent)."""

    id: int
    item_id: str
    attempts: int


class FactJobQueue:
    """Pending, done and failed jobs; a failure is retried up to MAX_ATTEMPTS, then kept as
    'failed' with its error (never dropped without a trace)."""

    def __init__(self, path: str, lock: threading.RLock | None = None) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = lock or threading.RLock()

    def enqueue(self, item_id: str) -> int:
        """Queue a job for ``item_id``; return its id."""
        now = to_stored(utc_now())
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO fact_jobs (item_id, status, attempts, last_error, created_at, "
                "updated_at) VALUES (?, 'pending', 0, NULL, ?, ?)",
                (item_id, now, now),
            )
        return int(cursor.lastrowid or 0)

    def next_pending(self) -> FactJob | None:
        """The oldest pending job, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, item_id, attempts FROM fact_jobs WHERE status = 'pending' "
                "ORDER BY id LIMIT 1"
            ).fetchone()
        return FactJob(int(row[0]), str(row[1]), int(row[2])) if row else None

    def finish(self, job_id: int) -> None:
        """Mark a job done."""
        self._set(job_id, "done", None, 0)

    def fail(self, job_id: int, error: str) -> str:
        """Count a failed attempt; after MAX_ATTEMPTS the job is 'failed'. Return the status."""
        with self._lock:
            row = self._conn.execute(
                "SELECT attempts FROM fact_jobs WHERE id = ?", (job_id,)
            ).fetchone()
            attempts = (int(row[0]) if row else 0) + 1
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            self._set(job_id, status, error, 1)
        level = logging.WARNING if status == "failed" else logging.INFO
        logger.log(
            level,
            "fact extraction job %d attempt %d: %s (%s)",
            job_id,
            attempts,
            error,
            "giving up; kept as failed" if status == "failed" else "will retry",
        )
        return status

    def _set(self, job_id: int, status: str, error: str | None, attempt: int) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE fact_jobs SET status = ?, attempts = attempts + ?, last_error = "
                "coalesce(?, last_error), updated_at = ? WHERE id = ?",
                (status, attempt, error, to_stored(utc_now()), job_id),
            )

    def counts(self) -> dict[str, int]:
        """How many jobs are in each status."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT status, count(*) FROM fact_jobs GROUP BY status"
            ).fetchall()
        return {str(status): int(count) for status, count in rows}

    def close(self) -> None:
        """Close the queue's connection."""
        with self._lock:
            self._conn.close()
