"""WebServices: what the web UI adds to a hub (sign-in, conversations, preferences)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.conversations.preferences import SqlitePreferencesStore
from hub.conversations.store import SqliteConversationStore
from hub.web.passphrase import PassphraseFile
from hub.web.sessions import SqliteSessionStore
from hub.web.setup_link import SetupLinkFile
from hub.web.sign_in import OwnerSignIn
from hub.web.throttle import SignInThrottle

logger = logging.getLogger(__name__)


@dataclass
class PendingWrites:
    """Writes that must finish even though the request that started them is gone."""

    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the event loop, logging (not losing) its failure."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a background write failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for every pending write."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass
class WebServices:
    """Sign-in, conversations and chat preferences, opened once per hub."""

    sign_in: OwnerSignIn
    conversations: SqliteConversationStore
    preferences: SqlitePreferencesStore
    pending: PendingWrites = field(default_factory=PendingWrites)

    @classmethod
    def open(cls, data_dir: Path, global_free_failures: int = 10) -> WebServices:
        """Open (creating and migrating) the web UI's databases in the data directory."""
        conversations = SqliteConversationStore.open(data_dir)
        return cls(
            sign_in=OwnerSignIn(
                PassphraseFile(data_dir),
                SqliteSessionStore.open(data_dir),
                SignInThrottle(global_free_failures=global_free_failures),
                SetupLinkFile(data_dir),
            ),
            conversations=conversations,
            preferences=SqlitePreferencesStore(conversations.database),
        )

    async def close(self) -> None:
        """Finish pending writes, then close the databases."""
        await self.pending.drain()
        self.conversations.close()
        self.sign_in.sessions.close()
