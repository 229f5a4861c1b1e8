"""The error contract: a domain error carries a stable code and the HTTP status a caller sees.

Services raise these (or the coded errors of ``memory``, ``devices`` and ``adapters``, which
cannot import the hub and carry the same two attributes); the HTTP layer maps every one of them
in one place (``hub.api.errors``), so no route matches exception classes or message text.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CodedError(Protocol):
    """Any exception that says how a caller should see it."""

    http_status: int
    error_code: str


class HubError(Exception):
    """Base of the hub's own domain errors; subclasses set the status and the code."""

    # Class attributes; an error whose status depends on the case sets them on the instance.
    http_status: int = 400
    error_code: str = "invalid_request"
    error_type: str = "invalid_request_error"
    # The request field at fault, when there is one (OpenAI's ``param``).
    param: str | None = None

    def http_headers(self) -> dict[str, str] | None:
        """Headers the answer should carry (``Retry-After`` and the like)."""
        return None


class FeatureDisabledError(HubError):
    """A part of the hub that the settings turned off was asked for; the message names the
    setting that turns it on, the code names the part (the web UI tells them apart by it)."""

    http_status = 503
    error_type = "server_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = code
