"""Pairing by SPAKE2: the code the person types authenticates the key exchange.

The code never crosses the network. Whoever runs an exchange without the code learns one wrong
guess per exchange and nothing a listener could test offline; both sides confirm the key before
the device keeps the secret derived from it (docs/device-protocol.md, section 4).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_A, SPAKE2_B
from spake2.spake2 import SPAKEError

HUB_IDENTITY = b"wnas-hub"
PAKE_MESSAGE_BYTES = 33
CONFIRM_BYTES = 32


@dataclass(frozen=True)
class PairingKeys:
    """What one successful exchange gives both sides."""

    hub_confirm: bytes
    device_confirm: bytes
    secret: bytes

    @classmethod
    def from_shared(cls, shared: bytes, device_id: str) -> PairingKeys:
        """Split the exchange's key into two confirmations and the device's secret."""
        okm = HKDF(
            algorithm=hashes.SHA256(),
            length=96,
            salt=None,
            info=b"wnas-pairing-v2 " + device_id.encode(),
        ).derive(shared)
        return cls(okm[:32], okm[32:64], okm[64:])


class DevicePake:
    """The device's side of one exchange (one per offer: SPAKE2 states are single-use)."""

    def __init__(self, code: str, device_id: str) -> None:
        self.device_id = device_id
        self._state = SPAKE2_A(code.encode(), idA=device_id.encode(), idB=HUB_IDENTITY)
        self.message: bytes = self._state.start()

    def accept(self, hub_message: bytes, hub_confirm: bytes) -> PairingKeys | None:
        """The keys when the hub's offer was made with the same code, else None."""
        try:
            keys = PairingKeys.from_shared(self._state.finish(hub_message), self.device_id)
        except (SPAKEError, ValueError):
            return None
        return keys if hmac.compare_digest(keys.hub_confirm, hub_confirm) else None


class HubPake:
    """The hub's side of one exchange, run when the person types the code."""

    def __init__(self, code: str, device_id: str, device_message: bytes) -> None:
        self.device_id = device_id
        state = SPAKE2_B(code.encode(), idA=device_id.encode(), idB=HUB_IDENTITY)
        self.message: bytes = state.start()
        try:
            shared = state.finish(device_message)
        except (SPAKEError, ValueError):
            shared = None  # a malformed device message: confirm nothing
        self._keys = PairingKeys.from_shared(shared, device_id) if shared else None

    @property
    def confirm(self) -> bytes:
        """The hub's confirmation to send with its message (random-looking when unusable)."""
        return self._keys.hub_confirm if self._keys else bytes(CONFIRM_BYTES)

    def secret_if_confirmed(self, device_confirm: bytes) -> bytes | None:
        """The device's secret when its confirmation shows it used the same code."""
        if self._keys is None or not hmac.compare_digest(self._keys.device_confirm, device_confirm):
            return None
        return self._keys.secret
