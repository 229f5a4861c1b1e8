"""Pairing: a device shows a short code, the person approves it with that code, the device gets
a secret. Wrong codes are limited; then the device must start pairing again."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass, field

from devices.link_auth import SECRET_BYTES
from devices.protocol import PAIRING_CODE_DIGITS, Hello

MAX_WRONG_CODES = 5


def new_pairing_code() -> str:
    """A random code for a device to show, e.g. '042917'."""
    return f"{secrets.randbelow(10**PAIRING_CODE_DIGITS):0{PAIRING_CODE_DIGITS}d}"


def new_secret() -> bytes:
    """A fresh per-device secret."""
    return secrets.token_bytes(SECRET_BYTES)


class PairingError(Exception):
    """Approval refused; the message says what to do, ``http_status`` how a caller sees it."""

    error_code = "pairing_refused"

    def __init__(self, message: str, status: int, tries_left: int = 0) -> None:
        super().__init__(message)
        self.http_status = status
        self.param = "code" if status == 403 else None
        self.tries_left = tries_left


class PairingDroppedError(Exception):
    """The pairing request was dropped (too many wrong codes, or the link went away)."""


@dataclass
class PairingRequest:
    """One open link waiting for the person to approve its code."""

    hello: Hello
    approved: asyncio.Future[bytes] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def device_id(self) -> str:
        """The id the device gave."""
        return self.hello.device_id

    @property
    def code(self) -> str:
        """The code the device shows."""
        return self.hello.pairing_code or ""


@dataclass
class _Waiting:
    requests: list[PairingRequest] = field(default_factory=list)
    wrong_codes: int = 0


class PairingBook:
    """Devices waiting to pair, by id. Lives in the hub's event loop."""

    def __init__(self, max_wrong_codes: int = MAX_WRONG_CODES) -> None:
        self._waiting: dict[str, _Waiting] = {}
        self._max_wrong = max_wrong_codes

    def open(self, hello: Hello) -> PairingRequest:
        """Register a link whose hello asks to pair with its code."""
        request = PairingRequest(hello)
        self._waiting.setdefault(hello.device_id, _Waiting()).requests.append(request)
        return request

    def close(self, request: PairingRequest) -> None:
        """Forget a request (its link ended)."""
        waiting = self._waiting.get(request.device_id)
        if waiting and request in waiting.requests:
            waiting.requests.remove(request)
            if not waiting.requests:
                del self._waiting[request.device_id]
        if not request.approved.done():
            request.approved.cancel()

    def is_waiting(self, device_id: str) -> bool:
        """True when some link for this id waits for approval."""
        return device_id in self._waiting

    def waiting(self) -> list[Hello]:
        """The hello of every device waiting to pair (the newest link's, per id)."""
        return [self._waiting[key].requests[-1].hello for key in sorted(self._waiting)]

    def approve(self, device_id: str, code: str) -> PairingRequest:
        """The waiting link whose code matches (the caller hands it the secret), or an error.

        Other links waiting under the same id are dropped; a wrong code counts against the id.
        """
        waiting = self._waiting.get(device_id)
        if waiting is None:
            raise PairingError(
                f"device {device_id!r} is not waiting to pair; put it in pairing mode "
                "(the simulator does this on its first start) and try again",
                404,
            )
        match = next(
            (r for r in waiting.requests if hmac.compare_digest(r.code, code.strip())), None
        )
        if match is None:
            waiting.wrong_codes += 1
            left = self._max_wrong - waiting.wrong_codes
            if left > 0:
                raise PairingError(
                    f"wrong code for {device_id!r}; check the code the device shows "
                    f"({left} tries left)",
                    403,
                    left,
                )
            del self._waiting[device_id]
            for request in waiting.requests:
                if not request.approved.done():
                    request.approved.set_exception(PairingDroppedError("too many wrong codes"))
            raise PairingError(
                f"wrong code for {device_id!r} {self._max_wrong} times; the pairing request is "
                "cancelled: restart pairing on the device and use its new code",
                403,
            )
        del self._waiting[device_id]
        for request in waiting.requests:
            if request is not match and not request.approved.done():
                request.approved.set_exception(PairingDroppedError("another link was approved"))
        return match
