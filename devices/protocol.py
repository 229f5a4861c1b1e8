"""Version 2 of the device protocol: control messages and the text-frame codec (see
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
from devices.link_crypto import PUBLIC_KEY_BYTES
from devices.pake import CONFIRM_BYTES, PAKE_MESSAGE_BYTES
from devices.samples import SensorBatch, Status

PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = (2,)
MAX_TEXT_FRAME = 256 * 1024
DEVICE_KINDS = frozenset({"watch", "glasses", "earbuds", "cgm", "phone"})


@dataclass(frozen=True)
class Hello:
    """The device's first frame: who it is, its link key, and its pairing message while waiting
    to pair."""

    TYPE: ClassVar[str] = "hello"
    device_id: str
    kind: str
    model: str
    capabilities: tuple[str, ...]
    nonce: bytes
    key: bytes
    pake: bytes | None = None
    protocol: int = PROTOCOL_VERSION

    @property
    def waiting_to_pair(self) -> bool:
        """True when the device has no secret and asks to pair."""
        return self.pake is not None

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
            "key": b64(self.key),
        }
        if self.pake is not None:
            wire["pake"] = b64(self.pake)
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Hello:
        """Validate a hello frame, the version first."""
        protocol = get_int(obj, cls.TYPE, "protocol", 0, 2**31)
        if protocol not in SUPPORTED_VERSIONS:
            raise ProtocolError(
                UNSUPPORTED_VERSION,
                f"this hub speaks device protocol {', '.join(map(str, SUPPORTED_VERSIONS))}, "
                f"not {protocol}; update the device (version 1 sent everything in the clear)",
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
        pake = obj.get("pake")
        return cls(
            device_id=get_device_id(obj, cls.TYPE),
            kind=kind,
            model=get_str(obj, cls.TYPE, "model", 100),
            capabilities=tuple(capabilities[:32]),
            nonce=get_bytes(obj, cls.TYPE, "nonce", 16, 64),
            key=get_bytes(obj, cls.TYPE, "key", PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES),
            pake=None
            if pake is None
            else get_bytes(obj, cls.TYPE, "pake", PAKE_MESSAGE_BYTES, PAKE_MESSAGE_BYTES),
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
class PairingOffer:
    """The hub's half of the pairing exchange, made with the code the person typed."""

    TYPE: ClassVar[str] = "pairing_offer"
    pake: bytes
    confirm: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "pake": b64(self.pake), "confirm": b64(self.confirm)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> PairingOffer:
        """Validate a pairing_offer frame."""
        return cls(
            get_bytes(obj, cls.TYPE, "pake", PAKE_MESSAGE_BYTES, PAKE_MESSAGE_BYTES),
            get_bytes(obj, cls.TYPE, "confirm", CONFIRM_BYTES, CONFIRM_BYTES),
        )


@dataclass(frozen=True)
class PairingConfirm:
    """The device's confirmation: it used the same code, and now holds the secret."""

    TYPE: ClassVar[str] = "pairing_confirm"
    confirm: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "confirm": b64(self.confirm)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> PairingConfirm:
        """Validate a pairing_confirm frame."""
        return cls(get_bytes(obj, cls.TYPE, "confirm", CONFIRM_BYTES, CONFIRM_BYTES))


@dataclass(frozen=True)
class PairingRetry:
    """The hub's offer did not match the device's code: a fresh message for the next try."""

    TYPE: ClassVar[str] = "pairing_retry"
    pake: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "pake": b64(self.pake)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> PairingRetry:
        """Validate a pairing_retry frame."""
        return cls(get_bytes(obj, cls.TYPE, "pake", PAKE_MESSAGE_BYTES, PAKE_MESSAGE_BYTES))


@dataclass(frozen=True)
class Challenge:
    """The hub's fresh nonce and link key for this link."""

    TYPE: ClassVar[str] = "challenge"
    nonce: bytes
    key: bytes

    def to_wire(self) -> dict[str, Any]:
        """The frame as JSON."""
        return {"type": self.TYPE, "nonce": b64(self.nonce), "key": b64(self.key)}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Challenge:
        """Validate a challenge frame."""
        return cls(
            get_bytes(obj, cls.TYPE, "nonce", 16, 64),
            get_bytes(obj, cls.TYPE, "key", PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES),
        )


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
    """The link is open (the first sealed frame): what the hub already has, and proof that it is
    the paired hub."""

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
    """A protocol error; the link closes after it."""

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
    | PairingOffer
    | PairingConfirm
    | PairingRetry
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
        PairingOffer,
        PairingConfirm,
        PairingRetry,
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
    except RecursionError as exc:
        raise ProtocolError(
            MALFORMED_FRAME, "text frame is nested too deeply; no frame of this protocol nests"
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
