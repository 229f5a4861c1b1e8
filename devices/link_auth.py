"""Challenge-response on a link, SCRAM-style (RFC 5802) with HMAC-SHA-256.

The hub keeps only ``stored_key`` and ``server_key``: it can check a proof, but a copy of its
database cannot make one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from devices.fields import b64

SECRET_BYTES = 32


def _hmac(key: bytes, text: bytes) -> bytes:
    return hmac.new(key, text, hashlib.sha256).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class VerifierKeys:
    """What the hub stores for a paired device instead of its secret."""

    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> VerifierKeys:
        """Derive both keys from the device's secret."""
        return cls(hashlib.sha256(client_key(secret)).digest(), server_key(secret))


def client_key(secret: bytes) -> bytes:
    """HMAC(secret, 'wnas client key')."""
    return _hmac(secret, b"wnas client key")


def server_key(secret: bytes) -> bytes:
    """HMAC(secret, 'wnas server key')."""
    return _hmac(secret, b"wnas server key")


def auth_message(
    device_id: str, device_nonce: bytes, hub_nonce: bytes, device_key: bytes, hub_key: bytes
) -> bytes:
    """What both sides sign for one link: the nonces and both link keys, so a proof made on one
    link (or for keys a relay swapped in) is worth nothing on another."""
    fields = (device_id, b64(device_nonce), b64(hub_nonce), b64(device_key), b64(hub_key))
    return ("wnas-link-v2," + ",".join(fields)).encode()


def make_proof(secret: bytes, message: bytes) -> bytes:
    """The device's proof: client_key XOR HMAC(stored_key, message)."""
    key = client_key(secret)
    return _xor(key, _hmac(hashlib.sha256(key).digest(), message))


def check_proof(keys: VerifierKeys, message: bytes, proof: bytes) -> bool:
    """True when ``proof`` was made with the secret these keys came from."""
    if len(proof) != len(keys.stored_key):
        return False
    recovered = _xor(proof, _hmac(keys.stored_key, message))
    return hmac.compare_digest(hashlib.sha256(recovered).digest(), keys.stored_key)


def server_signature(keys: VerifierKeys, message: bytes) -> bytes:
    """The hub's signature, showing the device it reached the hub it paired with."""
    return _hmac(keys.server_key, message)


def check_server_signature(secret: bytes, message: bytes, signature: bytes) -> bool:
    """The device's check of the hub's signature."""
    return hmac.compare_digest(_hmac(server_key(secret), message), signature)
