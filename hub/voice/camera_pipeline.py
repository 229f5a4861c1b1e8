"""CameraPipeline: glasses frames through OCR; text seen becomes memory (kind ``image_text``).
Frames that look like the last one read, or whose text matches it, are skipped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devices.media import MediaFrame
from devices.perception.ocr import frame_hash, hash_distance, text_similarity
from hub.voice.engines import PerceptionEngines
from memory.protocol import MemoryStore
from memory.types import NewMemory

logger = logging.getLogger(__name__)

# Frames whose 256-bit hashes differ in at most this many bits show the same still view.
SAME_SCENE_BITS = 3
# Text this similar to one kept from the device in the last RECENT_TEXT seconds is the same
# text seen again (the wearer glancing back at the same sign).
SAME_TEXT = 0.8
RECENT_TEXT = 600.0


@dataclass
class CameraCounts:
    """What the pipeline has done since start."""

    frames: int = 0
    superseded: int = 0
    read: int = 0
    kept: int = 0
    same_scene: int = 0
    same_text: int = 0
    no_text: int = 0
    failures: int = 0


@dataclass
class _Seen:
    last_hash: int | None = None
    recent: list[tuple[float, str]] = field(default_factory=list)  # (frame time, text kept)


@dataclass
class CameraPipeline:
    """An ingest listener: keeps the newest unread frame per device, reads it on its thread."""

    engines: PerceptionEngines
    store: MemoryStore | None
    counts: CameraCounts = field(default_factory=CameraCounts)
    _pending: dict[str, MediaFrame] = field(default_factory=dict)
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _stopping: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="voice-camera", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop after the frame being read (blocking)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def frames_stored(self, device_id: str, frames: Sequence[object]) -> None:
        """Note the newest camera frame (called on the event loop); older unread ones are
        dropped, since reading falls behind a camera and the newest view matters most."""
        camera = [f for f in frames if isinstance(f, MediaFrame) and f.type == "camera"]
        if not camera:
            return
        self.counts.frames += len(camera)
        # Frames that arrived together: only the newest is read, the others are superseded.
        self.counts.superseded += len(camera) - 1
        with self._wake:
            if device_id in self._pending:
                self.counts.superseded += 1
            self._pending[device_id] = camera[-1]
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                device_id, frame = next(iter(self._pending.items()))
                del self._pending[device_id]
            try:
                self._read(device_id, frame)
            except Exception:
                self.counts.failures += 1
                logger.exception("could not read the frame %d of %s", frame.seq, device_id)

    def _read(self, device_id: str, frame: MediaFrame) -> None:
        seen = self._seen.setdefault(device_id, _Seen())
        fingerprint = frame_hash(frame.payload)
        if (
            seen.last_hash is not None
            and hash_distance(fingerprint, seen.last_hash) <= SAME_SCENE_BITS
        ):
            self.counts.same_scene += 1
            return
        seen.last_hash = fingerprint
        found = self.engines.read_text(frame.payload)
        self.counts.read += 1
        if not found.lines:
            self.counts.no_text += 1
            return
        seen.recent = [(t, text) for t, text in seen.recent if frame.t - t < RECENT_TEXT]
        if any(text_similarity(found.text, text) >= SAME_TEXT for _, text in seen.recent):
            self.counts.same_text += 1
            return
        seen.recent.append((frame.t, found.text))
        if self.store is None:
            logger.info("seen on %s (memory is off, not kept): %s", device_id, found.text)
            return
        self.store.add(
            NewMemory(
                text=found.text,
                kind="image_text",
                source="device",
                happened_at=datetime.fromtimestamp(frame.t, UTC),
                metadata={
                    "device_id": device_id,
                    "seq": frame.seq,
                    "width": frame.width,
                    "height": frame.height,
                    "confidence": round(found.confidence, 3),
                },
            )
        )
        self.counts.kept += 1
        logger.info("text seen by %s: %s", device_id, found.text.replace("\n", " | "))
