"""The coded errors of bridges (see hub/errors.py for the contract)."""

from __future__ import annotations

from hub.errors import HubError


class InvalidReadingError(HubError):
    """A bridge sent a reading that does not fit its sensor kind; nothing of it was stored."""

    http_status = 422
    error_code = "invalid_reading"


class BridgeRevokedError(HubError):
    """The bridge was revoked (or never added) while it sent; nothing of it was stored."""

    http_status = 401
    error_code = "bridge_revoked"


class BridgeSecretError(HubError):
    """No working bridge of the endpoint's kind has the secret in the request (the message
    never repeats the secret)."""

    http_status = 401
    error_code = "invalid_bridge_secret"
