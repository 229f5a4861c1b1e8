"""Pairing: a device shows a short code, the person types it into the hub, and the code
authenticates a key exchange on the device's waiting link (devices/pake.py). Wrong codes are
limited; one link may wait per id, and only so many in all."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from devices.errors import HUB_BUSY, PAIRING_BUSY, ProtocolError
from devices.protocol import Hello

MAX_WRONG_CODES = 5
MAX_WAITING = 16
PAIRING_CODE_DIGITS = 6


def new_pairing_code() -> str:
    """A random code for a device to show, e.g. '042917'."""
    return f"{secrets.randbelow(10**PAIRING_CODE_DIGITS):0{PAIRING_CODE_DIGITS}d}"


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
class PairingAttempt:
    """One code the person typed, for the waiting link to try; its result is the device's
    secret when the device confirmed the same code, None when it did not."""

    code: str
    result: asyncio.Future[bytes | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class PairingRequest:
    """One open link waiting for the person to type its code."""

    hello: Hello
    attempts: asyncio.Queue[PairingAttempt] = field(default_factory=asyncio.Queue)
    # Set once the hub has stored the device's keys; the link then goes on to the challenge.
    stored: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    dropped: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    wrong_codes: int = 0

    @property
    def device_id(self) -> str:
        """The id the device gave."""
        return self.hello.device_id


class PairingBook:
    """Devices waiting to pair, by id. Lives in the hub's event loop."""

    def __init__(
        self,
        max_wrong_codes: int = MAX_WRONG_CODES,
        max_waiting: int = MAX_WAITING,
        answer_timeout: float = 10.0,
    ) -> None:
        self._waiting: dict[str, PairingRequest] = {}
        self._max_wrong = max_wrong_codes
        self._max_waiting = max_waiting
        self._answer_timeout = answer_timeout

    def open(self, hello: Hello) -> PairingRequest:
        """Register a link whose hello asks to pair; a second link under the same id, or one
        past the limit, is refused (never raced against the first)."""
        if hello.device_id in self._waiting:
            raise ProtocolError(
                PAIRING_BUSY,
                f"another link already waits to pair as {hello.device_id!r}; if that is not "
                "this device, something else claims its id: pair once that link is gone",
            )
        if len(self._waiting) >= self._max_waiting:
            raise ProtocolError(
                HUB_BUSY,
                f"{self._max_waiting} devices already wait to pair with this hub; "
                "try again in a few minutes",
            )
        request = PairingRequest(hello)
        self._waiting[hello.device_id] = request
        return request

    def close(self, request: PairingRequest) -> None:
        """Forget a request (its link ended)."""
        if self._waiting.get(request.device_id) is request:
            del self._waiting[request.device_id]
        if not request.dropped.done():
            request.dropped.set_result("the device's link ended")
        while not request.attempts.empty():
            attempt = request.attempts.get_nowait()
            if not attempt.result.done():
                attempt.result.set_exception(PairingDroppedError("the device's link ended"))

    def is_waiting(self, device_id: str) -> bool:
        """True when a link for this id waits for approval."""
        return device_id in self._waiting

    def waiting(self) -> list[Hello]:
        """The hello of every device waiting to pair."""
        return [self._waiting[key].hello for key in sorted(self._waiting)]

    async def approve(self, device_id: str, code: str) -> tuple[PairingRequest, bytes]:
        """Try ``code`` on the waiting link; the request and the device's secret when the device
        confirmed it, else a PairingError (a wrong code counts against the request)."""
        request = self._waiting.get(device_id)
        if request is None:
            raise PairingError(
                f"device {device_id!r} is not waiting to pair; put it in pairing mode "
                "(the simulator does this on its first start) and try again",
                404,
            )
        attempt = PairingAttempt(code.strip())
        request.attempts.put_nowait(attempt)
        try:
            async with asyncio.timeout(self._answer_timeout):
                secret = await attempt.result
        except (TimeoutError, PairingDroppedError) as exc:
            self.close(request)
            raise PairingError(
                f"device {device_id!r} stopped answering while pairing; put it in pairing mode "
                "again and use the code it shows",
                409,
            ) from exc
        if secret is not None:
            del self._waiting[device_id]
            return request, secret
        request.wrong_codes += 1
        left = self._max_wrong - request.wrong_codes
        if left > 0:
            raise PairingError(
                f"wrong code for {device_id!r}: it does not match the code the device shows; "
                f"check it and try again ({left} tries left). If you typed it right, another "
                "device may be claiming this id: wait until that link is gone, then pair again",
                403,
                left,
            )
        del self._waiting[device_id]
        request.dropped.set_result("too many wrong codes")
        raise PairingError(
            f"wrong code for {device_id!r} {self._max_wrong} times; the pairing request is "
            "cancelled: restart pairing on the device and use its new code",
            403,
        )
