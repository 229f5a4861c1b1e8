"""Simulated earbuds: what the wearer says (spoken with eSpeak NG) as PCM16 audio frames in
real time, quiet room noise between sentences, and the hub's spoken replies played (saved)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from devices.client import DeviceClient
from devices.media import MediaFrame, SpeechFrame
from devices.perception.pcm import SAMPLE_RATE, float_to_pcm16, wav_bytes
from devices.perception.speech import EspeakSynthesizer

FRAME_SECONDS = 0.1
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2
DAY_SCRIPT = (
    "I left my keys in the blue drawer next to the fridge.",
    "The dentist moved my appointment to Thursday afternoon.",
    "Hey hub, when is my dentist appointment?",
    "We need oat milk, bread and coffee beans.",
    "Hey hub, what do we need from the shop?",
)


def room_noise(seconds: float, rng: np.random.Generator, level: float = 0.002) -> bytes:
    """Quiet background noise (not speech)."""
    count = int(seconds * SAMPLE_RATE)
    return float_to_pcm16(rng.normal(0.0, level, count).astype(np.float32))


@dataclass
class EarbudScript:
    """Sentences spoken one after another with pauses, cut into 100 ms frames."""

    sentences: tuple[str, ...] = DAY_SCRIPT
    pause: float = 2.0
    seed: int = 1
    # A little slower than eSpeak's default: clearer for small speech models.
    voice: EspeakSynthesizer = field(
        default_factory=lambda: EspeakSynthesizer(words_per_minute=150)
    )

    def audio(self) -> bytes:
        """The whole script as one PCM16 stream, starting and ending with a pause."""
        rng = np.random.default_rng(self.seed)
        parts = [room_noise(self.pause / 2, rng)]
        for sentence in self.sentences:
            parts.append(self.voice.synthesize(sentence))
            parts.append(room_noise(self.pause, rng))
        return b"".join(parts)

    def frames(self, start: float) -> Iterator[tuple[float, bytes]]:
        """(stream time, 100 ms of audio) for the whole script."""
        pcm = self.audio()
        for offset in range(0, len(pcm), FRAME_BYTES):
            yield start + offset / (2 * SAMPLE_RATE), pcm[offset : offset + FRAME_BYTES]


def _audio_frame(seq: int, t: float, pcm: bytes) -> MediaFrame:
    return MediaFrame("audio", seq, t, pcm)


async def send_audio(
    client: DeviceClient, frames: Iterator[tuple[float, bytes]], speed: float = 1.0
) -> int:
    """Queue audio frames at the pace they are spoken (``speed`` times faster)."""
    sent = 0
    began = time.monotonic()
    first: float | None = None
    for t, pcm in frames:
        first = t if first is None else first
        await client.send_media(partial(_audio_frame, t=t, pcm=pcm))
        sent += 1
        ahead = (t - first) / speed - (time.monotonic() - began)
        if ahead > 0:
            await asyncio.sleep(ahead)
    return sent


@dataclass
class ReplyPlayer:
    """Collects the hub's spoken replies; prints each sentence, saves each reply as a WAV."""

    folder: Path | None = None
    replies: dict[str, list[SpeechFrame]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)

    def __call__(self, frame: SpeechFrame) -> None:
        """Take one speech frame from the hub."""
        self.replies.setdefault(frame.reply, []).append(frame)
        if frame.text:
            print(f"hub says: {frame.text}", flush=True)
        if frame.final:
            self.finished.append(frame.reply)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / f"{frame.reply}.wav").write_bytes(wav_bytes(self.audio(frame.reply)))

    def audio(self, reply: str) -> bytes:
        """All audio of one reply, in order."""
        frames = sorted(self.replies.get(reply, []), key=lambda f: f.index)
        return b"".join(frame.payload for frame in frames)


async def stream_earbuds(client: DeviceClient, args: argparse.Namespace) -> int:
    """Speak the script (or --say sentences) into the hub; returns the frames queued."""
    sentences = tuple(args.say) if args.say else DAY_SCRIPT
    script = EarbudScript(sentences, seed=args.seed)
    made = 0
    while True:
        made += await send_audio(client, script.frames(time.time()), args.speed)
        if args.frames and made >= args.frames:
            return made
        if args.say:  # said what it was asked to say: stay linked for the replies
            await asyncio.sleep(3600 * 24)
