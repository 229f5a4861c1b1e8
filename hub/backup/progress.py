"""The progress callback a backup or restore reports each file to."""

from __future__ import annotations

from collections.abc import Callable

# Called with the relative path about to be copied or checked and its size in bytes.
Progress = Callable[[str, int], None]


def no_progress(relative: str, size: int) -> None:
    """A progress callback that shows nothing."""
