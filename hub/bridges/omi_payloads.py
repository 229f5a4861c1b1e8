"""What the Omi app and Omi cloud post to their developer webhooks (their public documentation
is the contract), checked, and turned into memory drafts keyed by their identity in Omi."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from hub.bridges.memories import MemoryDraft

# Generous for a day's talk, small enough that nothing here costs much to check.
MAX_SEGMENTS = 2000
MAX_TEXT = 20_000
MAX_ITEMS = 500
# The legacy day summary is a Python literal in a string: read only this much of it.
MAX_LITERAL_CHARS = 200_000


# Times outside these years are no one's conversation (and some cannot be moved to UTC).
YEARS = range(1970, 2201)


def _utc(value: datetime) -> datetime:
    """Omi sends ISO times with an offset; one without is taken as UTC."""
    if value.year not in YEARS:
        raise ValueError(f"a time from {YEARS.start} to {YEARS.stop - 1} is expected")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: date) -> date:
    if value.year not in YEARS:
        raise ValueError(f"a date from {YEARS.start} to {YEARS.stop - 1} is expected")
    return value


Moment = Annotated[datetime, AfterValidator(_utc)]
Day = Annotated[date, AfterValidator(_day)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(max_length=500)]


class _Lenient(BaseModel):
    """Omi adds fields over time: unknown ones are ignored, known ones are checked."""

    model_config = ConfigDict(extra="ignore")


class TranscriptSegment(_Lenient):
    """One piece of speech as Omi transcribed it; ``start``/``end`` are seconds into the
    listening session."""

    id: Name | None = None
    text: Text
    speaker: Name | None = None
    speaker_id: int | None = Field(
        default=None, validation_alias=AliasChoices("speaker_id", "speakerId")
    )
    is_user: bool = False
    start: float = Field(default=0.0, ge=0, le=10_000_000)
    end: float = Field(default=0.0, ge=0, le=10_000_000)


class TranscriptBatch(_Lenient):
    """The real-time transcript webhook's body: new segments of one listening session."""

    session_id: Name = ""
    segments: list[TranscriptSegment] = Field(default_factory=list, max_length=MAX_SEGMENTS)


class ActionItem(_Lenient):
    """A thing to do that Omi found in a conversation."""

    description: Text
    completed: bool = False


class ConversationEvent(_Lenient):
    """A calendar event Omi found in a conversation."""

    title: Name = ""
    description: Text = ""
    start: Moment | None = None


class Structured(_Lenient):
    """Omi's summary of a conversation."""

    title: Name = ""
    overview: Text = ""
    emoji: Name = ""
    category: Name = ""
    action_items: list[ActionItem] = Field(default_factory=list, max_length=MAX_ITEMS)
    events: list[ConversationEvent] = Field(default_factory=list, max_length=MAX_ITEMS)


class Conversation(_Lenient):
    """The memory (conversation) created webhook's body: one finished conversation."""

    id: Annotated[str, Field(min_length=1, max_length=500)]
    created_at: Moment | None = None
    started_at: Moment | None = None
    finished_at: Moment | None = None
    structured: Structured = Field(default_factory=Structured)
    transcript_segments: list[TranscriptSegment] = Field(
        default_factory=list, max_length=MAX_SEGMENTS * 10
    )
    discarded: bool = False
    language: Name | None = None


class Highlight(_Lenient):
    """One topic of the day."""

    topic: Name = ""
    emoji: Name = ""
    summary: Text = ""


class DayActionItem(_Lenient):
    """A thing to do from the day's conversations."""

    description: Text = ""
    priority: Name = ""
    completed: bool = False


class DaySummary(_Lenient):
    """Omi's recap of one day (``summary_json`` in the day summary webhook)."""

    date: Day
    headline: Text = ""
    overview: Text = ""
    day_emoji: Name = ""
    highlights: list[Highlight] = Field(default_factory=list, max_length=MAX_ITEMS)
    action_items: list[DayActionItem] = Field(default_factory=list, max_length=MAX_ITEMS)
    unresolved_questions: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)
    decisions_made: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)
    knowledge_nuggets: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)


class DaySummaryPost(_Lenient):
    """The day summary webhook's body: ``summary_json`` now; older apps send only ``summary``,
    a string (a Python dict literal, or plain text)."""

    uid: Name = ""
    created_at: Moment | None = None
    summary: Annotated[str, Field(max_length=MAX_LITERAL_CHARS)] | None = None
    summary_json: DaySummary | None = None


# ----- drafts ---------------------------------------------------------------------------------


def segment_drafts(batch: TranscriptBatch, now: datetime) -> list[MemoryDraft]:
    """One transcript memory per segment with words in it, keyed by session and segment id
    (or its start, for a segment without one). Omi's times count from the session's start,
    which it does not send: the batch's last word is taken as said ``now``."""
    spoken = [segment for segment in batch.segments if segment.text.strip()]
    if not spoken:
        return []
    latest = max(max(segment.end, segment.start) for segment in spoken)
    session = batch.session_id or "session"
    drafts = []
    for segment in spoken:
        started = now - timedelta(seconds=latest - segment.start)
        ended = now - timedelta(seconds=latest - max(segment.end, segment.start))
        identity = segment.id or f"{segment.start:.3f}"
        drafts.append(
            MemoryDraft(
                key=f"segment:{session}:{identity}",
                text=segment.text.strip(),
                kind="transcript",
                happened_at=started,
                metadata={
                    "via": "omi",
                    "conversation_id": f"omi_{session}",
                    "started_at": round(started.timestamp(), 3),
                    "ended_at": round(ended.timestamp(), 3),
                    "speaker": segment.speaker,
                    "speaker_id": segment.speaker_id,
                    "is_user": segment.is_user,
                },
                estimated=("started_at", "ended_at"),
            )
        )
    return drafts


def conversation_draft(conversation: Conversation, now: datetime) -> MemoryDraft | None:
    """One memory for a conversation: its title, overview and action items (its transcript
    when Omi made no summary); None for a conversation Omi discarded or that says nothing."""
    if conversation.discarded:
        return None
    structured = conversation.structured
    lines = [" ".join(part for part in (structured.emoji, structured.title.strip()) if part)]
    lines.append(structured.overview.strip())
    if structured.action_items:
        lines.append("Action items:")
        lines += [
            f"- {item.description.strip()}" + (" (done)" if item.completed else "")
            for item in structured.action_items
            if item.description.strip()
        ]
    events = [event.title.strip() for event in structured.events if event.title.strip()]
    if events:
        lines.append("Events: " + "; ".join(events))
    if not structured.title.strip() and not structured.overview.strip():
        said = " ".join(s.text.strip() for s in conversation.transcript_segments if s.text.strip())
        lines.append(said[: MAX_TEXT * 5])
    text = "\n".join(line for line in lines if line.strip())
    if not text.strip():
        return None
    when = conversation.started_at or conversation.created_at or now
    return MemoryDraft(
        key=f"conversation:{conversation.id}",
        text=text,
        kind="note",
        happened_at=when,
        metadata={
            "via": "omi",
            "omi_conversation_id": conversation.id,
            "title": structured.title.strip(),
            "category": structured.category,
            "started_at": _stamp(conversation.started_at),
            "finished_at": _stamp(conversation.finished_at),
            "action_items": [
                [item.description.strip()[:500], item.completed]
                for item in structured.action_items[:50]
            ],
            "segments": len(conversation.transcript_segments),
        },
    )


def day_summary_draft(post: DaySummaryPost, now: datetime) -> MemoryDraft | None:
    """One memory per day, keyed by its date; None when the post holds no summary."""
    summary = post.summary_json or _legacy_summary(post.summary)
    sent = post.created_at or now
    if summary is None:
        text = (post.summary or "").strip()
        if not text:
            return None
        return _day_draft(sent.date(), f"Day summary for {sent.date().isoformat()}:\n{text}")
    lines = [
        f"Day summary for {summary.date.isoformat()}: "
        + " ".join(part for part in (summary.day_emoji, summary.headline.strip()) if part),
        summary.overview.strip(),
    ]
    lines += _section("Highlights", [f"{h.topic}: {h.summary}" for h in summary.highlights])
    lines += _section(
        "Action items",
        [i.description + (" (done)" if i.completed else "") for i in summary.action_items],
    )
    lines += _section("Decisions", _field(summary.decisions_made, "decision"))
    lines += _section("Open questions", _field(summary.unresolved_questions, "question"))
    lines += _section("Learned", _field(summary.knowledge_nuggets, "insight"))
    return _day_draft(summary.date, "\n".join(line for line in lines if line.strip()))


def _day_draft(day: date, text: str) -> MemoryDraft:
    # The summary is of a whole day in the person's zone, which Omi does not send: noon UTC
    # falls inside that day almost everywhere.
    noon = datetime.combine(day, time(12), UTC)
    return MemoryDraft(
        key=f"day-summary:{day.isoformat()}",
        text=text,
        kind="note",
        happened_at=noon,
        metadata={"via": "omi", "day_summary": day.isoformat()},
    )


def _legacy_summary(summary: str | None) -> DaySummary | None:
    """The legacy ``summary`` string: JSON, or the Python literal Omi's ``str(dict)`` makes."""
    if not summary or not summary.lstrip().startswith("{"):
        return None
    try:
        parsed: object = json.loads(summary)
    except ValueError:
        try:
            parsed = ast.literal_eval(summary)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    try:
        return DaySummary.model_validate(parsed)
    except ValidationError:
        return None


def _section(title: str, entries: list[str]) -> list[str]:
    kept = [entry.strip() for entry in entries if entry.strip(" :")]
    return [f"{title}:", *(f"- {entry}" for entry in kept)] if kept else []


def _field(entries: list[dict[str, Any]], name: str) -> list[str]:
    return [str(entry.get(name, ""))[:MAX_TEXT] for entry in entries]


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else round(moment.timestamp(), 3)
