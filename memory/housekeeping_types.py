"""Plain data of housekeeping: the policy per kind, a day's group of old items, runs and sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Action = Literal["keep", "summarize", "delete"]
ACTIONS: tuple[str, ...] = get_args(Action)
# The bulky kinds a device writes all day; notes, facts and messages are the person's own words.
HOUSEKEEPING_KINDS: tuple[str, ...] = ("transcript", "image_text")
BatchState = Literal["held", "undone", "purged"]
# The metadata key a summary carries: its batch's id (summaries are never compacted again).
SUMMARY_KEY = "housekeeping_batch"


@dataclass(frozen=True)
class Policy:
    """What housekeeping does with one kind: keep it raw, or summarize or delete items older
    than ``after_days``."""

    kind: str
    action: Action = "keep"
    after_days: int = 30


@dataclass(frozen=True)
class DayGroup:
    """Old items of one kind from one source (and device) on one local day."""

    kind: str
    source: str
    device: str  # the metadata's device_id, or "" when none
    day: str  # YYYY-MM-DD in the hub's local time
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """One day group compacted by a run: held out of search until ``purge_after``."""

    id: str
    run_id: str
    kind: str
    source: str
    device: str
    day: str
    action: str
    summary_id: str | None
    items: int
    bytes: int
    held_at: str
    purge_after: str
    state: str


@dataclass(frozen=True)
class Run:
    """What one housekeeping run did."""

    id: str
    started_at: str
    finished_at: str | None
    trigger: str
    batches: int
    items: int
    summaries: int
    purged: int
    error: str | None
    undoable: int  # batches of this run still held (undo brings them back)


@dataclass(frozen=True)
class KindSize:
    """How much one kind of memory takes: items in search, and items held for undo."""

    kind: str
    items: int
    bytes: int
    held_items: int
    held_bytes: int
