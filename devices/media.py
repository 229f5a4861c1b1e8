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

    def header(self) -> dict[str, Any]:
        """The JSON header, without the payload."""
        head: dict[str, Any] = {"type": self.type, "seq": self.seq, "t": self.t}
        if self.type == "audio":
            head.update(format="pcm16", sample_rate=self.sample_rate, channels=1)
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
            return MediaFrame(kind, seq, t, payload, sample_rate=rate)
        if get_str(head, kind, "format") != "jpeg" or not payload.startswith(b"\xff\xd8"):
            raise ProtocolError(INVALID_FIELD, "camera frames must be JPEG (payload FF D8 ...)")
        width = get_int(head, kind, "width", 1, 16384)
        height = get_int(head, kind, "height", 1, 16384)
        return MediaFrame(kind, seq, t, payload, width=width, height=height)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, seq) from exc
