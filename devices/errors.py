"""ProtocolError: what the hub sends back as an `error` frame before closing the link."""

from __future__ import annotations

MALFORMED_FRAME = "malformed_frame"
UNKNOWN_TYPE = "unknown_type"
INVALID_FIELD = "invalid_field"
FRAME_TOO_LARGE = "frame_too_large"
BAD_SEQUENCE = "bad_sequence"
UNSUPPORTED_VERSION = "unsupported_version"
AUTH_FAILED = "auth_failed"
PAIRING_FAILED = "pairing_failed"
REVOKED = "revoked"
REPLACED = "replaced"
HANDSHAKE_TIMEOUT = "handshake_timeout"
SHUTTING_DOWN = "shutting_down"
FRAME_AUTH_FAILED = "frame_auth_failed"
PAIRING_BUSY = "pairing_busy"
PAIRING_TIMEOUT = "pairing_timeout"
HUB_BUSY = "hub_busy"
DISK_FULL = "disk_full"
QUOTA_EXCEEDED = "quota_exceeded"


class ProtocolError(Exception):
    """A frame broke the device protocol; ``code`` is one of the spec's error codes."""

    def __init__(self, code: str, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.seq = seq

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
