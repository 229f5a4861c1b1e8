"""OwnerSignIn: first-run passphrase, the one-time setup link, sign-in with back-off, sessions."""

from __future__ import annotations

import asyncio
import hmac
import math
import secrets
from dataclasses import dataclass

from hub.errors import HubError
from hub.web.passphrase import PassphraseFile, PassphraseRejectedError
from hub.web.sessions import SqliteSessionStore
from hub.web.setup_link import SetupLinkFile
from hub.web.throttle import SignInThrottle

SESSION_COOKIE = "wnas_session"
SETUP_QUERY_PARAMETER = "setup"


class SignInError(HubError):
    """A refused sign-in or setup, with the HTTP status and a message that says what to do."""

    def __init__(
        self, status_code: int, message: str, code: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = status_code
        self.error_code = code
        self.error_type = "rate_limit_error" if status_code == 429 else "invalid_request_error"
        self.message = message
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str] | None:
        """When to try again, after too many wrong passphrases."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after else None


@dataclass(frozen=True)
class SignInStatus:
    """What the sign-in page needs to know before the person types anything."""

    passphrase_set: bool
    signed_in: bool
    setup_needs_link: bool


class OwnerSignIn:
    """Everything about proving, in a browser, that you are the hub's owner."""

    def __init__(
        self,
        passphrase: PassphraseFile,
        sessions: SqliteSessionStore,
        throttle: SignInThrottle | None = None,
        setup_link: SetupLinkFile | None = None,
    ) -> None:
        self.passphrase = passphrase
        self.sessions = sessions
        self.throttle = throttle or SignInThrottle()
        self.setup_link = setup_link
        # One-time setup token, alive until it is used or a passphrase is set.
        is_set = passphrase.is_set()
        self._setup_token: str | None = None if is_set else secrets.token_urlsafe(24)
        if is_set and setup_link is not None:
            setup_link.remove()  # left by a hub that stopped before it was used
        # One passphrase check at a time, so parallel guesses cannot outrun the back-off.
        self._checking = asyncio.Lock()

    @property
    def setup_token(self) -> str | None:
        """The token of the one-time setup link, or None once a passphrase is set."""
        return self._setup_token

    async def status(self, session_id: str | None, from_loopback: bool) -> SignInStatus:
        """Is a passphrase set, is this browser signed in, and may it set one without the link."""
        is_set = await asyncio.to_thread(self.passphrase.is_set)
        return SignInStatus(
            passphrase_set=is_set,
            signed_in=await self.check_session(session_id),
            setup_needs_link=not is_set and not from_loopback,
        )

    async def check_session(self, session_id: str | None) -> bool:
        """True for a live session id."""
        if not session_id:
            return False
        return await asyncio.to_thread(self._check_session, session_id)

    def _check_session(self, session_id: str) -> bool:
        # Sessions belong to the passphrase they were opened with: once it is reset (the file
        # deleted) or replaced, none of them is accepted.
        tag = self.passphrase.tag()
        return tag is not None and self.sessions.check_session(session_id, tag)

    def _start_session(self) -> str:
        return self.sessions.create_session(self.passphrase.tag() or "")

    def _setup_token_matches(self, presented: str | None) -> bool:
        expected = self._setup_token
        return bool(expected and presented) and hmac.compare_digest(
            str(presented).encode(), str(expected).encode()
        )

    async def set_first_passphrase(
        self, passphrase: str, setup_token: str | None, from_loopback: bool
    ) -> str:
        """Set the passphrase on first start and return a new session id."""
        async with self._checking:
            if await asyncio.to_thread(self.passphrase.is_set):
                raise SignInError(
                    409,
                    "a passphrase is already set; sign in with it (to start over, delete "
                    "web_passphrase from the data directory and restart the hub)",
                    "passphrase_already_set",
                )
            if not from_loopback and not self._setup_token_matches(setup_token):
                raise SignInError(
                    403,
                    "to set the passphrase from another device, open the one-time setup link "
                    "that `hub serve` printed when it started",
                    "setup_link_required",
                )
            try:
                await asyncio.to_thread(self.passphrase.set, passphrase)
            except PassphraseRejectedError as exc:
                raise SignInError(400, str(exc), "weak_passphrase") from exc
            self._setup_token = None
            if self.setup_link is not None:
                await asyncio.to_thread(self.setup_link.remove)
            # Sessions of an earlier passphrase no longer pass; drop their rows too.
            await asyncio.to_thread(self.sessions.end_all_sessions)
            return await asyncio.to_thread(self._start_session)

    async def sign_in(self, passphrase: str, client: str) -> str:
        """Check the passphrase (with back-off per client and for all clients together) and
        return a new session id."""
        async with self._checking:
            if not await asyncio.to_thread(self.passphrase.is_set):
                raise SignInError(
                    409, "no passphrase is set yet; choose one first", "passphrase_not_set"
                )
            wait = self.throttle.retry_after(client)
            if wait > 0:
                raise self._too_many(wait)
            if not await asyncio.to_thread(self.passphrase.verify, passphrase):
                wait = self.throttle.record_failure(client)
                if wait > 0:
                    raise self._too_many(wait, wrong=True)
                raise SignInError(401, "wrong passphrase; try again", "wrong_passphrase")
            self.throttle.record_success(client)
            return await asyncio.to_thread(self._start_session)

    @staticmethod
    def _too_many(wait: float, wrong: bool = False) -> SignInError:
        seconds = max(1, math.ceil(wait))
        prefix = "wrong passphrase, and too many tries" if wrong else "too many wrong passphrases"
        return SignInError(
            429,
            f"{prefix}; wait {seconds} s before trying again",
            "too_many_attempts",
            retry_after=seconds,
        )

    async def sign_out(self, session_id: str | None) -> None:
        """End this browser's session."""
        if session_id:
            await asyncio.to_thread(self.sessions.end_session, session_id)
