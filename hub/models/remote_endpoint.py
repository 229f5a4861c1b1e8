"""RemoteEndpoint: an OpenAI-compatible server the person added to the catalog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteEndpoint:
    """An OpenAI-compatible server the person added, and how to reach it."""

    url: str  # the API's base, ending in /v1 (or wherever /chat/completions lives)
    model: str  # the model name the server expects
    api_key: str | None = None
    fallback: str | None = None  # the local model that answers while it is down
    context_length: int = 8192
