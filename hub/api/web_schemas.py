"""Answers of the web UI's own endpoints: /v1/session (sign-in) and /v1/preferences."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hub.conversations.preferences import ChatPreferences
from hub.web.sign_in import SignInStatus


class SessionStatus(BaseModel):
    """GET /v1/session: what the sign-in page needs before the person types anything."""

    passphrase_set: bool = Field(description="False until the first passphrase is chosen.")
    signed_in: bool = Field(description="Whether this browser's session cookie is valid.")
    setup_needs_link: bool = Field(
        description="True when no passphrase is set and this browser is not on the hub's own "
        "machine: the first passphrase needs the setup link `hub serve` prints."
    )

    @classmethod
    def from_domain(cls, status: SignInStatus) -> SessionStatus:
        """The API's view of the sign-in state."""
        return cls(
            passphrase_set=status.passphrase_set,
            signed_in=status.signed_in,
            setup_needs_link=status.setup_needs_link,
        )


class SignedIn(BaseModel):
    """Whether this browser is signed in after the request (the cookie is set or cleared)."""

    signed_in: bool


class Preferences(BaseModel):
    """The persona and generation settings of the web UI's conversations."""

    system_prompt: str = Field(description="The persona; empty for the hub's default.")
    temperature: float
    max_tokens: int | None = Field(description="The answer's token budget; null for the hub's.")

    @classmethod
    def from_domain(cls, preferences: ChatPreferences) -> Preferences:
        """The API's view of saved preferences."""
        return cls(
            system_prompt=preferences.system_prompt,
            temperature=preferences.temperature,
            max_tokens=preferences.max_tokens,
        )
