"""Version 1 of the device protocol: control messages and the text-frame codec (see
docs/device-protocol.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.errors import (
    FRAME_TOO_LARGE,
    MALFORMED_FRAME,
    UNKNOWN_TYPE,
    UNSUPPORTED_VERSION,
    ProtocolError,
)
from devices.fields import b64, get_bool, get_bytes, get_device_id, get_int, get_str
from devices.samples import SensorBatch, Status

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_TEXT_FRAME = 256 * 1024
DEVICE_KINDS = frozenset({"watch", "glasses", "earbuds", "cgm", "phone"})
PAIRING_CODE_DIGITS = 6


@dataclass(frozen=True)
class Hello:
    """The device's first frame: who it is, and its pairing code while waiting to pair."""

    TYPE: ClassVar[str] = "hello"
    device_id: str
    kind: str
    model: str
    capabilities: tuple[str, ...]
    nonce: bytes
    pairing_code: str | None = None
    protocol: int = PROTOCOL_VERSION

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        wire: dict[str, Any] = {
            "type": self.TYPE,
            "protocol": self.protocol,
            "device_id": self.device_id,
            "kind": self.kind,
            "model": self.model,
            "capabilities": list(self.capabilities),
            "nonce": b64(self.nonce),
        }
        if self.pairing_code is not None:
            wire["pairing_code"] = self.pairing_code
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Hello:
        """Validate a hello frame, the version first."""
        protocol = get_int(obj, cls.TYPE, "protocol", 0, 2**31)
        if protocol not in SUPPORTED_VERSIONS:
            raise ProtocolError(
                UNSUPPORTED_VERSION,
                f"this hub speaks device protocol {', '.join(map(str, SUPPORTED_VERSIONS))}, "
                f"not {protocol}; update the hub or the device",
            )
        kind = get_str(obj, cls.TYPE, "kind", 20)
        if kind not in DEVICE_KINDS:
            raise ProtocolError(
                "invalid_field", f"hello.kind is {kind!r}; use one of {sorted(DEVICE_KINDS)}"
            )
        capabilities = obj.get("capabilities", [])
        if not isinstance(capabilities, list) or not all(
            isinstance(c, str) and len(c) <= 40 for c in capabilities[:32]
        ):
            raise ProtocolError(
                "invalid_field", "hello.capabilities must be a list of up to 32 short strings"
            )
        code = obj.get("pairing_code")
        if code is not None and (
            not isinstance(code, str) or not code.isdigit() or len(code) != PAIRING_CODE_DIGITS
        ):
            raise ProtocolError(
                "invalid_field", f"hello.pairing_code must be {PAIRING_CODE_DIGITS} digits"
            )
        return cls(
            device_id=get_device_id(obj, cls.TYPE),
            kind=kind,
            model=get_str(obj, cls.TYPE, "model", 100),
            capabilities=tuple(capabilities[:32]),
            nonce=get_bytes(obj, cls.TYPE, "nonce", 16, 64),
            pairing_code=code,
            protocol=protocol,
        )


@dataclass(frozen=True)
class PairingPending:
    """The person has been asked to approve this device's code."""

    TYPE: ClassVar[str] = "pairing_pending"

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> PairingPending:
        """Read a pairing_pending frame."""
        return cls()


@dataclass(frozen=True)
class Paired:
    """The device's secret, sent once when the person approved the code."""

    TYPE: ClassVar[str] = "paired"
    secret: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "secret": b64(self.secret)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Paired:
        """Validate a paired frame."""
        return cls(get_bytes(obj, cls.TYPE, "secret", 32, 32))


@dataclass(frozen=True)
class Challenge:
    """The hub's fresh nonce for this link."""

    TYPE: ClassVar[str] = "challenge"
    nonce: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "nonce": b64(self.nonce)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Challenge:
        """Validate a challenge frame."""
        return cls(get_bytes(obj, cls.TYPE, "nonce", 16, 64))


@dataclass(frozen=True)
class Proof:
    """The device's answer to the challenge (docs/device-protocol.md, section 4)."""

    TYPE: ClassVar[str] = "proof"
    proof: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "proof": b64(self.proof)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Proof:
        """Validate a proof frame."""
        return cls(get_bytes(obj, cls.TYPE, "proof", 32, 32))


@dataclass(frozen=True)
class Welcome:
    """The link is open: what the hub already has, and proof that it is the paired hub."""

    TYPE: ClassVar[str] = "welcome"
    acked_seq: int
    server_signature: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {
            "type": self.TYPE,
            "acked_seq": self.acked_seq,
            "server_signature": b64(self.server_signature),
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Welcome:
        """Validate a welcome frame."""
        return cls(
            get_int(obj, cls.TYPE, "acked_seq", 0, 2**53 - 1),
            get_bytes(obj, cls.TYPE, "server_signature", 32, 32),
        )


@dataclass(frozen=True)
class Ack:
    """Every frame of this device up to ``seq`` is on the hub's disk."""

    TYPE: ClassVar[str] = "ack"
    seq: int

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "seq": self.seq}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Ack:
        """Validate an ack frame."""
        return cls(get_int(obj, cls.TYPE, "seq", 0, 2**53 - 1))


@dataclass(frozen=True)
class ErrorMessage:
    """A protocol error; in version 1 the link closes after it."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    seq: int | None = None
    fatal: bool = True

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        wire: dict[str, Any] = {"type": self.TYPE, "code": self.code, "message": self.message}
        if self.seq is not None:
            wire["seq"] = self.seq
        wire["fatal"] = self.fatal
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> ErrorMessage:
        """Validate an error frame."""
        seq = obj.get("seq")
        return cls(
            get_str(obj, cls.TYPE, "code", 40),
            get_str(obj, cls.TYPE, "message", 2000),
            seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            get_bool(obj, cls.TYPE, "fatal") if "fatal" in obj else True,
        )

    @classmethod
    def of(cls, error: ProtocolError) -> ErrorMessage:
        """The frame that reports ``error``."""
        return cls(error.code, error.message, error.seq)


Message = (
    Hello
    | PairingPending
    | Paired
    | Challenge
    | Proof
    | Welcome
    | Ack
    | ErrorMessage
    | SensorBatch
    | Status
)
MESSAGE_TYPES: dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        PairingPending,
        Paired,
        Challenge,
        Proof,
        Welcome,
        Ack,
        ErrorMessage,
        SensorBatch,
        Status,
    )
}


def encode(message: Message) -> str:
    """One text frame."""
    return json.dumps(message.to_wire(), separators=(",", ":"))


def decode(text: str | bytes) -> Message:
    """Parse and validate one text frame, or raise ProtocolError saying what is wrong."""
    if len(text) > MAX_TEXT_FRAME:
        raise ProtocolError(
            FRAME_TOO_LARGE,
            f"text frame of {len(text)} bytes; at most {MAX_TEXT_FRAME}: split the batch",
        )
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            MALFORMED_FRAME, f"text frame is not valid JSON ({exc}); send one JSON object"
        ) from exc
    if not isinstance(obj, dict):
        raise ProtocolError(MALFORMED_FRAME, "text frame must be a JSON object with a 'type'")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(MALFORMED_FRAME, "text frame has no string 'type' field; add one")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(
            UNKNOWN_TYPE,
            f"unknown message type {kind!r:.40}; version {PROTOCOL_VERSION} has "
            f"{', '.join(sorted(MESSAGE_TYPES))}",
        )
    message: Message = cls.from_wire(obj)
    return message
