"""Binary media frames: 'WN', layout version, header length, JSON header, payload."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from devices.errors import FRAME_TOO_LARGE, INVALID_FIELD, MALFORMED_FRAME, ProtocolError
from devices.fields import get_int, get_number, get_seq, get_str
from devices.samples import MAX_TIME, MIN_TIME

MAGIC = b"WN"
LAYOUT_VERSION = 1
MAX_BINARY_FRAME = 2 * 1024 * 1024
MAX_HEADER = 4096
_PREFIX = struct.Struct(">2sBH")
MEDIA_TYPES = ("audio", "camera")
TALK_STATES = (None, "hold", "end")


@dataclass(frozen=True)
class MediaFrame:
    """An audio chunk (PCM16 mono 16 kHz) or a camera image (JPEG) with its sequence number."""

    type: str
    seq: int
    t: float
    payload: bytes
    sample_rate: int = 16000
    width: int = 0
    height: int = 0
    talk: str | None = None  # push-to-talk: "hold" while the button is down, "end" on release

    def header(self) -> dict[str, Any]:
        """The JSON header, without the payload."""
        head: dict[str, Any] = {"type": self.type, "seq": self.seq, "t": self.t}
        if self.type == "audio":
            head.update(format="pcm16", sample_rate=self.sample_rate, channels=1)
            if self.talk is not None:
                head["talk"] = self.talk
        else:
            head.update(format="jpeg", width=self.width, height=self.height)
        return head

    def to_wire(self) -> bytes:
        """The whole binary frame."""
        head = json.dumps(self.header(), separators=(",", ":")).encode()
        return _PREFIX.pack(MAGIC, LAYOUT_VERSION, len(head)) + head + self.payload


def _header(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < _PREFIX.size:
        raise ProtocolError(MALFORMED_FRAME, "binary frame shorter than its 5-byte prefix")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError(MALFORMED_FRAME, "binary frame must start with the bytes 'WN'")
    if version != LAYOUT_VERSION:
        raise ProtocolError(
            MALFORMED_FRAME, f"binary layout version {version}; this hub reads {LAYOUT_VERSION}"
        )
    end = _PREFIX.size + length
    if length > MAX_HEADER or end > len(data):
        raise ProtocolError(
            MALFORMED_FRAME, f"binary header length {length} runs past the frame or {MAX_HEADER}"
        )
    try:
        head = json.loads(data[_PREFIX.size : end])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(MALFORMED_FRAME, f"binary frame header is not JSON ({exc})") from exc
    if not isinstance(head, dict):
        raise ProtocolError(MALFORMED_FRAME, "binary frame header must be a JSON object")
    return head, data[end:]


def decode_media(data: bytes) -> MediaFrame:
    """Parse and validate one binary frame, or raise ProtocolError saying what is wrong."""
    if len(data) > MAX_BINARY_FRAME:
        raise ProtocolError(
            FRAME_TOO_LARGE, f"binary frame of {len(data)} bytes; at most {MAX_BINARY_FRAME}"
        )
    head, payload = _header(data)
    kind = head.get("type")
    if kind not in MEDIA_TYPES:
        raise ProtocolError(
            "unknown_type", f"binary frame type {kind!r:.40}; use 'audio' or 'camera'"
        )
    seq = get_seq(head, kind)
    try:
        t = get_number(head, kind, "t", MIN_TIME, MAX_TIME)
        if kind == "audio":
            if get_str(head, kind, "format") != "pcm16" or head.get("channels") != 1:
                raise ProtocolError(INVALID_FIELD, "audio must be format 'pcm16', channels 1")
            rate = get_int(head, kind, "sample_rate", 16000, 16000)
            if len(payload) % 2:
                raise ProtocolError(INVALID_FIELD, "audio payload must be whole 16-bit samples")
            talk = head.get("talk")
            if talk not in TALK_STATES:
                raise ProtocolError(INVALID_FIELD, "audio.talk must be 'hold' or 'end' when given")
            return MediaFrame(kind, seq, t, payload, sample_rate=rate, talk=talk)
        if get_str(head, kind, "format") != "jpeg" or not payload.startswith(b"\xff\xd8"):
            raise ProtocolError(INVALID_FIELD, "camera frames must be JPEG (payload FF D8 ...)")
        width = get_int(head, kind, "width", 1, 16384)
        height = get_int(head, kind, "height", 1, 16384)
        return MediaFrame(kind, seq, t, payload, width=width, height=height)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, seq) from exc


@dataclass(frozen=True)
class SpeechFrame:
    """Hub to device: one spoken sentence of a reply (PCM16 mono 16 kHz), in order by
    ``index``; the reply's last frame has ``final`` set (and may carry no audio)."""

    reply: str
    index: int
    t: float
    payload: bytes
    text: str = ""
    final: bool = False

    def header(self) -> dict[str, Any]:
        """The JSON header, without the payload."""
        return {
            "type": "speech",
            "reply": self.reply,
            "index": self.index,
            "t": self.t,
            "format": "pcm16",
            "sample_rate": 16000,
            "channels": 1,
            "text": self.text,
            "final": self.final,
        }

    def to_wire(self) -> bytes:
        """The whole binary frame."""
        head = json.dumps(self.header(), separators=(",", ":")).encode()
        return _PREFIX.pack(MAGIC, LAYOUT_VERSION, len(head)) + head + self.payload


def decode_speech(data: bytes) -> SpeechFrame:
    """Parse a speech frame from the hub, or raise ProtocolError saying what is wrong."""
    head, payload = _header(data)
    if head.get("type") != "speech":
        raise ProtocolError("unknown_type", "the hub sends only 'speech' binary frames")
    if get_str(head, "speech", "format") != "pcm16" or len(payload) % 2:
        raise ProtocolError(INVALID_FIELD, "speech must be whole pcm16 samples")
    final = head.get("final", False)
    if not isinstance(final, bool):
        raise ProtocolError(INVALID_FIELD, "speech.final must be true or false")
    return SpeechFrame(
        reply=get_str(head, "speech", "reply", 64),
        index=get_int(head, "speech", "index", 0, 2**31),
        t=get_number(head, "speech", "t", MIN_TIME, MAX_TIME),
        payload=payload,
        text=str(head.get("text", ""))[:2000],
        final=final,
    )
