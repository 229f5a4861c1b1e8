"""AudioPipeline: every device's audio stream through voice activity detection and
speech-to-text; each utterance becomes a transcript or, with the wake phrase (or push-to-talk),
a request to the assistant."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devices.media import MediaFrame
from devices.perception.speech_to_text import Transcription
from devices.perception.vad import (
    SegmenterSettings,
    SpeechProbability,
    SpeechSegmenter,
    Utterance,
    silero_detector,
)
from hub.voice.engines import PerceptionEngines
from hub.voice.transcripts import TranscriptKeeper
from hub.voice.wake import only_wake_phrase, request_after_wake_phrase

logger = logging.getLogger(__name__)

# Frames waiting for the worker; past this the newest are not transcribed (they stay stored).
MAX_WAITING_FRAMES = 4000
# Bytes of audio waiting for the worker (the hub's default: about 33 minutes of 16 kHz audio);
# by frames alone 4000 frames of 2 MiB would hold 8 GiB.
MAX_WAITING_BYTES = 64_000_000
# One push-to-talk request at most (60 s of 16 kHz 16-bit mono); the rest of the hold is dropped.
MAX_TALK_BYTES = 1_920_000
BYTES_PER_SECOND = 32000
# A stream with no new audio for this long has stopped: what it said so far is an utterance.
STALLED_AFTER = 1.5
STALL_CHECK_EVERY = 0.25
# After the wake phrase said alone, how long the request may take to start (seconds).
WAIT_FOR_REQUEST = 8.0


@dataclass(frozen=True)
class HeardUtterance:
    """What the pipeline made of one utterance."""

    source: str
    utterance: Utterance
    transcription: Transcription
    request: str | None


RequestHandler = Callable[[HeardUtterance], None]


@dataclass
class _Stream:
    segmenter: SpeechSegmenter
    last_heard: float = field(default_factory=time.monotonic)
    talk: bytearray = field(default_factory=bytearray)
    talk_start: float = 0.0
    # The button is still down after the request reached its limit: drop audio until "end".
    talk_cut: bool = False
    # "Hey hub" said alone: an utterance starting before this (stream time) is the request.
    asked_until: float = 0.0


@dataclass
class PipelineCounts:
    """What the pipeline has done since start (for status and tests)."""

    audio_seconds: float = 0.0
    utterances: int = 0
    transcripts: int = 0
    requests: int = 0
    dropped_frames: int = 0
    talks_cut_off: int = 0
    failures: int = 0


class AudioPipeline:
    """An ingest listener: queues audio frames, and works through them on its own thread."""

    def __init__(
        self,
        engines: PerceptionEngines,
        keeper: TranscriptKeeper,
        on_request: RequestHandler,
        wake_phrase: str,
        segmenter: SegmenterSettings | None = None,
        detector_factory: Callable[[], SpeechProbability] = silero_detector,
        max_talk_bytes: int = MAX_TALK_BYTES,
        max_waiting_bytes: int = MAX_WAITING_BYTES,
    ) -> None:
        self.engines = engines
        self.keeper = keeper
        self.on_request = on_request
        self.wake_phrase = wake_phrase
        self.segmenter_settings = segmenter or SegmenterSettings()
        self.detector_factory = detector_factory
        self.max_talk_bytes = max_talk_bytes
        self.max_waiting_bytes = max_waiting_bytes
        self.counts = PipelineCounts()
        self.heard: list[HeardUtterance] = []  # the latest few, newest last
        self._queue: queue.Queue[tuple[str, MediaFrame] | None] = queue.Queue()
        self._streams: dict[str, _Stream] = {}
        # Payload bytes in the queue: added on the event loop, taken off on the worker.
        self._waiting_bytes = 0
        self._waiting_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="voice-audio", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop after the utterance at hand (blocking); queued audio stays stored, unheard."""
        if self._thread is not None:
            self._stopping.set()
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def frames_stored(self, device_id: str, frames: Sequence[object]) -> None:
        """Queue the audio among newly committed frames (called on the event loop)."""
        for frame in frames:
            if not isinstance(frame, MediaFrame) or frame.type != "audio":
                continue
            with self._waiting_lock:
                full = (
                    self._queue.qsize() >= MAX_WAITING_FRAMES
                    or self._waiting_bytes + len(frame.payload) > self.max_waiting_bytes
                )
                if not full:
                    self._waiting_bytes += len(frame.payload)
            if full:
                self.counts.dropped_frames += 1
                if self.counts.dropped_frames % 1000 == 1:
                    logger.warning("voice is behind: audio frames are stored but not transcribed")
                continue
            self._queue.put((device_id, frame))

    def _work(self) -> None:
        checked = time.monotonic()
        while True:
            item: tuple[str, MediaFrame] | bool | None
            try:
                item = self._queue.get(timeout=STALL_CHECK_EVERY)
            except queue.Empty:
                item = False  # nothing came: only the stall check below
            if item is None or self._stopping.is_set():
                return
            try:
                if isinstance(item, tuple):
                    with self._waiting_lock:
                        self._waiting_bytes -= len(item[1].payload)
                    self._take(*item)
                # Checked on a clock, not only when idle: others may keep the queue busy.
                if time.monotonic() - checked >= STALL_CHECK_EVERY:
                    checked = time.monotonic()
                    self._end_stalled()
            except Exception:
                self.counts.failures += 1
                logger.exception("voice pipeline failed on audio")

    def _stream(self, source: str) -> _Stream:
        stream = self._streams.get(source)
        if stream is None:
            segmenter = SpeechSegmenter(self.detector_factory(), self.segmenter_settings)
            stream = self._streams[source] = _Stream(segmenter)
        return stream

    def _take(self, source: str, frame: MediaFrame) -> None:
        stream = self._stream(source)
        stream.last_heard = time.monotonic()
        self.counts.audio_seconds += len(frame.payload) / BYTES_PER_SECOND
        if frame.talk is not None:
            self._take_talk(source, stream, frame)
            return
        for utterance in stream.segmenter.feed(frame.payload, frame.t):
            self._handle(source, utterance)

    def _take_talk(self, source: str, stream: _Stream, frame: MediaFrame) -> None:
        """Gather a push-to-talk request until the button is let go, or until it is as long as
        a request may be: then what was said so far is the request, the rest is dropped."""
        if stream.talk_cut:
            stream.talk_cut = frame.talk != "end"
            return
        if not stream.talk:
            stream.talk_start = frame.t
        room = self.max_talk_bytes - len(stream.talk)
        stream.talk.extend(frame.payload[:room])
        if frame.talk == "end" or len(frame.payload) >= room:
            if frame.talk != "end":
                stream.talk_cut = True
                self.counts.talks_cut_off += 1
                logger.warning(
                    "push-to-talk from %s held past %.0f s: answering what was said so far, "
                    "dropping the rest until the button is let go (more: raise "
                    "HUB_VOICE_PUSH_TO_TALK_MAX_BYTES)",
                    source,
                    self.max_talk_bytes / BYTES_PER_SECOND,
                )
            self._end_talk(source, stream)

    def _end_talk(self, source: str, stream: _Stream) -> None:
        pcm, stream.talk = bytes(stream.talk), bytearray()
        end = stream.talk_start + len(pcm) / BYTES_PER_SECOND
        self._handle(source, Utterance(pcm, stream.talk_start, end, "push_to_talk"))

    def _end_stalled(self) -> None:
        now = time.monotonic()
        for source, stream in list(self._streams.items()):
            if now - stream.last_heard < STALLED_AFTER:
                continue
            stream.talk_cut = False  # a stream that stopped starts afresh
            if stream.talk:  # the button was never released: take what was said
                self._end_talk(source, stream)
            for utterance in stream.segmenter.flush():
                self._handle(source, utterance)
            stream.last_heard = now

    def _handle(self, source: str, utterance: Utterance) -> None:
        self.counts.utterances += 1
        stream = self._stream(source)
        pushed = utterance.ended_by == "push_to_talk" or utterance.start < stream.asked_until
        prompt = None if pushed else self.wake_phrase.capitalize() + ","
        heard = self.engines.transcribe(utterance.pcm, prompt=prompt, urgent=pushed)
        text = heard.text.strip()
        stream.asked_until = 0.0
        if not text:
            return
        if not pushed and only_wake_phrase(text, self.wake_phrase):
            stream.asked_until = utterance.end + WAIT_FOR_REQUEST
            return
        request = request_after_wake_phrase(text, self.wake_phrase)
        if pushed:  # a request whatever it starts with; a wake phrase said anyway is dropped
            request = request or text
        said = HeardUtterance(source, utterance, heard, request)
        self.heard = [*self.heard[-19:], said]
        if request is not None:
            self.counts.requests += 1
            self.on_request(said)  # the answer keeps the transcript once it is spoken
            return
        if self.keeper.keep(source, utterance, heard) is not None:
            self.counts.transcripts += 1
