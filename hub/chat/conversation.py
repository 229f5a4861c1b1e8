"""Answer in a stored conversation: the person's persona and settings, then its history."""

from __future__ import annotations

import asyncio

from hub.chat.turns import ChatTurn, ChatTurns, TurnOptions
from hub.conversations.preferences import ChatPreferences, SqlitePreferencesStore
from hub.conversations.store import StoredMessage
from hub.engine.types import ChatMessage, Sampling


def model_messages(preferences: ChatPreferences, history: list[StoredMessage]) -> list[ChatMessage]:
    """The persona, then the conversation (answers stopped before any text are left out)."""
    messages = []
    if preferences.system_prompt.strip():
        messages.append(ChatMessage("system", preferences.system_prompt.strip()))
    for message in history:
        if message.role == "assistant" and not message.content.strip():
            continue
        messages.append(ChatMessage(message.role, message.content))
    return messages


def conversation_options(preferences: ChatPreferences) -> TurnOptions:
    """A stored conversation answers with the person's temperature and length, and drops its
    oldest turns rather than refusing when it outgrows the context."""
    return TurnOptions(
        sampling=Sampling(temperature=preferences.temperature),
        max_tokens=preferences.max_tokens,
        trim_oldest=True,
    )


async def start_conversation_turn(
    turns: ChatTurns, preferences: SqlitePreferencesStore, history: list[StoredMessage]
) -> ChatTurn:
    """Start answering ``history`` with the person's preferences (errors surface here)."""
    chosen = await asyncio.to_thread(preferences.read_preferences)
    return await turns.start(None, model_messages(chosen, history), conversation_options(chosen))
