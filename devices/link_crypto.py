"""Frame-by-frame encryption of an authenticated link (docs/device-protocol.md, section 4).

Each side brings a fresh X25519 key in the handshake; the shared secret, the device's stored key
and the hash of everything both sides signed give two ChaCha20-Poly1305 keys, one per direction.
Nonces are frame counters, so a frame replayed, dropped, reordered or altered fails to open.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from devices.errors import FRAME_AUTH_FAILED, ProtocolError
from devices.media import MAX_BINARY_FRAME

PUBLIC_KEY_BYTES = 32
TAG_BYTES = 16
# One byte says whether the sealed payload was a text (JSON) or a binary (media) frame.
KIND_TEXT = b"\x00"
KIND_BINARY = b"\x01"
SEAL_OVERHEAD = 1 + TAG_BYTES
MAX_COUNTER = 2**64 - 1
# The largest WebSocket message a link carries: a sealed media frame, with room so a frame a
# little over the limit still gets the protocol's frame_too_large error instead of a cut link.
MAX_LINK_FRAME = MAX_BINARY_FRAME + SEAL_OVERHEAD + 64 * 1024
KEYS_INFO = b"wnas-link-v2 frame keys"


class EphemeralKey:
    """One side's X25519 key for one link, never stored."""

    def __init__(self) -> None:
        self._private = X25519PrivateKey.generate()

    @property
    def public(self) -> bytes:
        """The 32 bytes sent in hello or challenge."""
        return self._private.public_key().public_bytes_raw()

    def shared(self, peer_public: bytes) -> bytes:
        """The X25519 shared secret with the peer's public key."""
        try:
            return self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError as exc:  # a low-order point gives an all-zero secret
            raise ProtocolError(
                "invalid_field", "the peer's link key is not a usable X25519 public key"
            ) from exc


@dataclass(frozen=True)
class LinkKeys:
    """The two frame keys of one link."""

    device_to_hub: bytes
    hub_to_device: bytes

    @classmethod
    def derive(cls, shared: bytes, stored_key: bytes, signed: bytes) -> LinkKeys:
        """HKDF-SHA-256 over the X25519 secret and the device's stored key, salted with the
        hash of the signed handshake, so the keys belong to this link and these two peers."""
        okm = HKDF(
            algorithm=hashes.SHA256(),
            length=64,
            salt=hashlib.sha256(signed).digest(),
            info=KEYS_INFO,
        ).derive(shared + stored_key)
        return cls(okm[:32], okm[32:])


class FrameSealer:
    """Seals the frames one side sends, in order."""

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def seal(self, frame: str | bytes) -> bytes:
        """The binary WebSocket frame that carries ``frame``."""
        kind, payload = (
            (KIND_TEXT, frame.encode()) if isinstance(frame, str) else (KIND_BINARY, frame)
        )
        nonce = _nonce(self._counter)
        self._counter += 1
        return self._aead.encrypt(nonce, kind + payload, None)


class FrameOpener:
    """Opens the frames the other side sent, in order; anything else is refused."""

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def open(self, sealed: str | bytes) -> str | bytes:
        """The frame inside ``sealed``, or ProtocolError when it was altered, replayed, dropped,
        reordered, sent in the clear or sealed with another key."""
        if isinstance(sealed, str) or len(sealed) < SEAL_OVERHEAD:
            raise ProtocolError(
                FRAME_AUTH_FAILED,
                "after the handshake every frame must be a binary frame sealed with the link's key",
            )
        try:
            plain = self._aead.decrypt(_nonce(self._counter), sealed, None)
        except InvalidTag as exc:
            raise ProtocolError(
                FRAME_AUTH_FAILED,
                "a frame failed its integrity check (altered, replayed, out of order, or sealed "
                "with another key); the link is closed: reconnect",
            ) from exc
        self._counter += 1
        kind, payload = plain[:1], plain[1:]
        if kind == KIND_TEXT:
            try:
                return payload.decode()
            except UnicodeDecodeError as exc:
                raise ProtocolError(
                    "malformed_frame", "a sealed text frame is not UTF-8; send UTF-8 JSON"
                ) from exc
        if kind == KIND_BINARY:
            return payload
        raise ProtocolError("malformed_frame", "a sealed frame has an unknown kind byte")


def _nonce(counter: int) -> bytes:
    if counter > MAX_COUNTER:
        raise ProtocolError(FRAME_AUTH_FAILED, "the link has used all its nonces; reconnect")
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "big")
