"""The scopes a client credential may hold: one table that the store, the CLI, the API and the
web UI read (``GET /v1/clients/scopes`` serves it)."""

from __future__ import annotations

from hub.errors import HubError

# What each scope lets a program do. The owner's token and web sessions may do everything.
SCOPES: dict[str, str] = {
    "chat": "chat and text completions, embeddings, and the Ollama API",
    "memory:read": "memory search, and memories recalled into its chats",
    "memory:write": "adding memories (its chats may say 'remember that ...')",
    "devices:read": "paired devices and their status",
    "sensors:read": "sensor readings and summaries",
    "models:read": "the list of models (chat includes it)",
}


class UnknownScopeError(HubError, ValueError):
    """A scope name that is not in the table."""

    error_code = "unknown_scope"
    param = "scopes"


def parse_scopes(names: list[str] | str) -> tuple[str, ...]:
    """Scope names (a list, or 'chat,memory:read'), checked, without repeats, in table order."""
    given = names.split(",") if isinstance(names, str) else names
    wanted = {name.strip().lower() for name in given if name.strip()}
    unknown = sorted(wanted - SCOPES.keys())
    if unknown or not wanted:
        what = f"unknown scope {', '.join(map(repr, unknown))}" if unknown else "no scope given"
        raise UnknownScopeError(f"{what}; choose from {', '.join(SCOPES)}")
    return tuple(name for name in SCOPES if name in wanted)
