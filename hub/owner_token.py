"""The owner's bearer token as a running hub knows it: checked on every request, rotated at once."""

from __future__ import annotations

import hmac
import threading
from pathlib import Path

from hub.datadir import ensure_owner_token, write_new_owner_token


class OwnerToken:
    """The token in the data directory; after ``rotate`` only the new one is accepted."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._value = ensure_owner_token(data_dir)
        # Two rotations at once must leave the file and the accepted token the same.
        self._rotating = threading.Lock()

    def matches(self, presented: str) -> bool:
        """True when ``presented`` is the current token (compared in constant time)."""
        return hmac.compare_digest(presented.encode(), self._value.encode())

    def rotate(self) -> str:
        """Store a new token, accept only it from now on, and return it (blocking: it fsyncs)."""
        with self._rotating:
            self._value = write_new_owner_token(self.data_dir)
            return self._value
