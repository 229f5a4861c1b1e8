"""TranscriptKeeper: what the devices heard becomes memory (kind ``transcript``), grouped into
conversations that end after a silence."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devices.perception.speech_to_text import Transcription
from devices.perception.vad import Utterance
from memory.protocol import MemoryStore
from memory.types import MemoryItem, NewMemory

logger = logging.getLogger(__name__)


@dataclass
class _Conversation:
    conversation_id: str
    last_end: float


@dataclass
class TranscriptKeeper:
    """Stores transcripts with their device, times, words and conversation."""

    store: MemoryStore | None
    conversation_gap: float = 120.0
    model_name: str = "whisper-tiny.en"
    _conversations: dict[str, _Conversation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def conversation_for(self, source: str, start: float, end: float) -> str:
        """The conversation an utterance from ``source`` belongs to (a new one after a gap)."""
        with self._lock:
            current = self._conversations.get(source)
            if current is None or start - current.last_end > self.conversation_gap:
                stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
                current = _Conversation(f"conv_{stamp}_{uuid.uuid4().hex[:6]}", end)
                self._conversations[source] = current
            current.last_end = max(current.last_end, end)
            return current.conversation_id

    def keep(
        self,
        source: str,
        utterance: Utterance,
        heard: Transcription,
        via: str = "device",
        request: bool = False,
    ) -> MemoryItem | None:
        """Store one transcript (blocking); None when there is no memory to keep it in.
        ``request``: it was said to the assistant (stored after the answer, so the question
        is not offered to the model as a memory of itself)."""
        conversation = self.conversation_for(source, utterance.start, utterance.end)
        metadata: dict[str, Any] = {
            "device_id": source,
            "via": via,
            "request": request,
            "conversation_id": conversation,
            "started_at": round(utterance.start, 3),
            "ended_at": round(utterance.end, 3),
            "ended_by": utterance.ended_by,
            "speech_model": self.model_name,
            "words": [
                [
                    word.text,
                    round(utterance.start + word.start, 2),
                    round(utterance.start + word.end, 2),
                ]
                for word in heard.words
            ],
        }
        if self.store is None:
            logger.info("heard on %s (memory is off, not kept): %s", source, heard.text)
            return None
        item = self.store.add(
            NewMemory(
                text=heard.text,
                kind="transcript",
                source="device",
                happened_at=datetime.fromtimestamp(utterance.start, UTC),
                metadata=metadata,
            )
        )
        logger.info("transcript %s from %s: %s", item.id, source, heard.text)
        return item
