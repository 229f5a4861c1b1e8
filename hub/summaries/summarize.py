"""One summarizing pass over one device: new events and finished hours become memories.

Everything is derived from the stored rollups, never from the frames as they arrive, so a
resent frame (dropped by ingest) or a restarted hub tells nothing twice. The marks in devices.db
say how far a device was summarized; each memory also carries a key (device, what, start) that
is looked up before writing, so even a crash between the memory write and the marks write
leaves no duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.summaries.ledger import HOUR, SummaryLedger, hour_start
from hub.summaries.rules import (
    Episode,
    HourDigest,
    glucose_episodes,
    hour_digest,
    reportable,
    resting_heart_spikes,
    sedentary_spells,
)
from hub.summaries.wording import describe_digest, describe_episode
from memory.protocol import MemoryStore
from memory.types import NewMemory, SearchFilters

logger = logging.getLogger(__name__)

KINDS = ("glucose", "heart_rate", "steps")
# Read this far before the mark, so an episode already told is seen whole, never as a new one.
LOOKBACK_S = 3600.0
# At most this much new data per pass, so a backlog (a first start on old data) goes in steps.
EVENT_CHUNK_S = 24 * 3600.0
DIGEST_HOURS_PER_PASS = 48
MEMORY_KIND, MEMORY_SOURCE = "sensor_summary", "device"


@dataclass(frozen=True)
class PassResult:
    """What one pass stored, and whether the device has more waiting."""

    stored: int
    more: bool


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def summary_key(device_id: str, summary: str, start: float) -> str:
    """The identity of one summary: the same event or hour always has the same key."""
    return f"{device_id}/{summary}/{int(start)}"


def episode_memory(device_id: str, episode: Episode, label: str | None = None) -> NewMemory:
    """An event as a memory; ``label`` names the device to the person (else its id)."""
    metadata: dict[str, Any] = {
        "device_id": device_id,
        "summary": episode.summary,
        "key": summary_key(device_id, episode.summary, episode.start),
        "start": episode.start,
        "end": episode.end,
        "ongoing": episode.ongoing,
        "minutes": round(episode.duration_s / 60),
    }
    if episode.summary != "sedentary":
        metadata.update(peak=episode.peak, peak_at=episode.peak_at)
    return NewMemory(
        text=describe_episode(episode, label or device_id),
        kind=MEMORY_KIND,
        source=MEMORY_SOURCE,
        happened_at=_when(episode.start),
        metadata=metadata,
    )


def digest_memory(device_id: str, digest: HourDigest, label: str | None = None) -> NewMemory:
    """An hour's digest as a memory; ``label`` names the device to the person (else its id)."""
    metadata: dict[str, Any] = {
        "device_id": device_id,
        "summary": "hourly_digest",
        "key": summary_key(device_id, "hourly_digest", digest.start),
        "start": digest.start,
    }
    if digest.glucose is not None:
        metadata["glucose"] = {
            "mean": round(digest.glucose.mean, 1),
            "min": digest.glucose.low,
            "max": digest.glucose.high,
            "in_range": digest.in_range,
        }
    if digest.heart_rate is not None:
        metadata["heart_rate"] = {
            "mean": round(digest.heart_rate.mean, 1),
            "min": digest.heart_rate.low,
            "max": digest.heart_rate.high,
        }
    if digest.steps is not None:
        metadata["steps"] = digest.steps
    return NewMemory(
        text=describe_digest(digest, label or device_id),
        kind=MEMORY_KIND,
        source=MEMORY_SOURCE,
        happened_at=_when(digest.start),
        metadata=metadata,
    )


def already_kept(store: MemoryStore, new: NewMemory) -> bool:
    """True when a memory with the same summary key exists (it happened at the same time)."""
    start = float(new.metadata["start"])
    filters = SearchFilters(
        kinds=(MEMORY_KIND,), sources=(MEMORY_SOURCE,), since=_when(start), until=_when(start + 1)
    )
    items, _ = store.list_items(filters, limit=1000)
    return any(item.metadata.get("key") == new.metadata["key"] for item in items)


def _events(
    ledger: SummaryLedger, device_id: str, events_from: float, newest: float, label: str
) -> tuple[list[NewMemory], float, bool]:
    scan_end = min(newest + 60.0, events_from + EVENT_CHUNK_S)
    since = events_from - LOOKBACK_S
    glucose, heart, steps = (ledger.minutes(device_id, kind, since, scan_end) for kind in KINDS)
    episodes = glucose_episodes(glucose) + resting_heart_spikes(heart, steps)
    episodes += sedentary_spells(steps)
    told = reportable(episodes)
    news: list[NewMemory] = []
    held = scan_end
    for episode in sorted(episodes, key=lambda e: e.start):
        if episode.start < events_from:
            continue  # told (or found too short) by an earlier pass
        if episode in told:
            news.append(episode_memory(device_id, episode, label))
        elif episode.ongoing:
            held = min(held, episode.start)  # not over yet: look at it again next time
    return news, max(events_from, held), scan_end < newest + 60.0


def _digests(
    ledger: SummaryLedger, device_id: str, digests_until: float, newest: float, label: str
) -> tuple[list[NewMemory], float, bool]:
    complete = hour_start(newest)  # an hour is over once a minute after it has data
    until = min(complete, digests_until + DIGEST_HOURS_PER_PASS * HOUR)
    if until <= digests_until:
        return [], digests_until, False
    hours = ledger.hours(device_id, digests_until, until)
    glucose = ledger.minutes(device_id, "glucose", digests_until, until)
    news = []
    for start in sorted(hours):
        in_hour = [m for m in glucose if start <= m.t < start + HOUR]
        digest = hour_digest(start, hours[start], in_hour)
        if not digest.empty:
            news.append(digest_memory(device_id, digest, label))
    return news, until, until < complete


def summarize_device(ledger: SummaryLedger, store: MemoryStore, device_id: str) -> PassResult:
    """Store the device's new events and finished hours as memories; move its marks on."""
    span = ledger.span(device_id, KINDS)
    if span is None:
        return PassResult(0, False)
    first, newest = span
    marks = ledger.marks(device_id)
    events_from = max(marks[0], first)
    digests_until = max(marks[1], hour_start(first))
    label = ledger.label(device_id)
    events, events_from, more_events = _events(ledger, device_id, events_from, newest, label)
    digests, digests_until, more_digests = _digests(ledger, device_id, digests_until, newest, label)
    fresh = [new for new in events + digests if not already_kept(store, new)]
    if fresh:
        store.add_many(fresh)
        logger.info("device %s: %d sensor summaries remembered", device_id, len(fresh))
    if (events_from, digests_until) != marks:  # most passes move nothing: spare the disk a sync
        ledger.save_marks(device_id, events_from, digests_until)
    return PassResult(len(fresh), more_events or more_digests)
