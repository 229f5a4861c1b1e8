"""One summarizing pass over one device: new events and finished hours become memories.

Everything is derived from the stored rollups, never from the frames as they arrive, so a
resent frame (dropped by ingest) or a restarted hub tells nothing twice. The marks in devices.db
say how far a device was summarized; each memory also carries a key (device, what, start) that
is looked up before writing, so even a crash between the memory write and the marks write
leaves no duplicate.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devices.sensor_kinds import SLEEP_STAGE_CODES
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
from hub.summaries.sleep import SLEEP_OVER_S, SleepSession, sleep_sessions
from hub.summaries.wording import describe_digest, describe_episode, describe_sleep
from memory.protocol import MemoryStore
from memory.types import NewMemory, SearchFilters

logger = logging.getLogger(__name__)

EPISODE_KINDS = ("glucose", "heart_rate", "steps")
KINDS = (*EPISODE_KINDS, "sleep_stage")
# Read this far before the mark, so an episode already told is seen whole, never as a new one.
LOOKBACK_S = 3600.0
# Sleep is often written after the night, when other kinds have moved the mark past it, so every
# pass looks at the sleep of the day and a half before the mark; the summary keys keep each
# session told once, and a session not over yet needs no mark held for it.
SLEEP_LOOKBACK_S = 36 * 3600.0
# At most this much new data per pass, so a backlog (a first start on old data) goes in steps.
EVENT_CHUNK_S = 24 * 3600.0
DIGEST_HOURS_PER_PASS = 48
MEMORY_KIND, MEMORY_SOURCE = "sensor_summary", "device"


@dataclass(frozen=True)
class PassResult:
    """What one pass stored, whether the device has more waiting, and when (Unix seconds) a
    sleep session not over yet will be, if nothing more comes."""

    stored: int
    more: bool
    look_again_at: float | None = None


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


def sleep_memory(device_id: str, session: SleepSession, label: str | None = None) -> NewMemory:
    """A sleep session as a memory, known by when sleep began (in-bed minutes a second source
    adds around it change nothing); ``label`` names the device (else its id)."""
    stages = {
        name: session.stages[code]
        for name, code in SLEEP_STAGE_CODES.items()
        if name != "in_bed" and (session.staged or name == "asleep")
    }
    metadata: dict[str, Any] = {
        "device_id": device_id,
        "summary": "sleep",
        "key": summary_key(device_id, "sleep", session.asleep_from),
        "start": session.asleep_from,
        "end": session.asleep_until,
        "in_bed_from": session.start,
        "in_bed_until": session.end,
        "nap": session.nap,
        "minutes_asleep": round(session.asleep_s / 60),
        "minutes_in_bed": round(session.in_bed_s / 60),
        "stages": stages,
    }
    return NewMemory(
        text=describe_sleep(session, label or device_id),
        kind=MEMORY_KIND,
        source=MEMORY_SOURCE,
        happened_at=_when(session.asleep_from),
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
    ledger: SummaryLedger,
    device_id: str,
    events_from: float,
    newest: float,
    label: str,
) -> tuple[list[NewMemory], float, bool]:
    scan_end = min(newest + 60.0, events_from + EVENT_CHUNK_S)
    since = events_from - LOOKBACK_S
    glucose, heart, steps = (
        ledger.minutes(device_id, kind, since, scan_end) for kind in EPISODE_KINDS
    )
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


def _sleep(
    ledger: SummaryLedger, device_id: str, scan: tuple[float, float, float], label: str
) -> tuple[list[NewMemory], float | None]:
    """The sleep sessions that are over, told before or not (the keys tell), and when the
    first one not over yet will be. ``scan``: events_from, the device's newest minute, now."""
    events_from, newest, now = scan
    since = events_from - SLEEP_LOOKBACK_S
    scan_end = min(newest + 60.0, events_from + EVENT_CHUNK_S)  # where the events read ends
    seen_until = scan_end if scan_end < newest + 60.0 else math.inf
    minutes = ledger.minutes(device_id, "sleep_stage", since, scan_end)
    sessions = sleep_sessions(minutes, (since, seen_until), max(newest + 60.0, now))
    news = [sleep_memory(device_id, s, label) for s in sessions if s.reportable]
    waiting = [s.end + SLEEP_OVER_S for s in sessions if s.ongoing]
    return news, min(waiting, default=None)


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


def summarize_device(
    ledger: SummaryLedger, store: MemoryStore, device_id: str, now: float | None = None
) -> PassResult:
    """Store the device's new events and finished hours as memories; move its marks on.
    ``now`` (the clock unless given) closes a sleep session an hour after its end."""
    span = ledger.span(device_id, KINDS)
    if span is None:
        return PassResult(0, False)
    first, newest = span
    marks = ledger.marks(device_id)
    events_from = max(marks[0], first)
    digests_until = max(marks[1], hour_start(first))
    label = ledger.label(device_id)
    clock = time.time() if now is None else now
    sleep, look_again_at = _sleep(ledger, device_id, (events_from, newest, clock), label)
    events, events_from, more_events = _events(ledger, device_id, events_from, newest, label)
    digests, digests_until, more_digests = _digests(ledger, device_id, digests_until, newest, label)
    fresh = [new for new in events + sleep + digests if not already_kept(store, new)]
    if fresh:
        store.add_many(fresh)
        logger.info("device %s: %d sensor summaries remembered", device_id, len(fresh))
    if (events_from, digests_until) != marks:  # most passes move nothing: spare the disk a sync
        ledger.save_marks(device_id, events_from, digests_until)
    return PassResult(len(fresh), more_events or more_digests, look_again_at)
