"""Is a data directory in use? Look for processes holding files in it open (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def processes_using(folder: Path, proc: Path = PROC) -> list[int]:
    """Process ids (other than ours) with a file under ``folder`` open, as far as we may see.

    Root sees every process; another user sees only their own, which covers the usual cases:
    the service restored by root, or `hub serve` restored by the person who runs it.
    """
    folder = folder.resolve()
    found = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue  # gone, or another user's process we may not inspect
        if any(Path(target).is_relative_to(folder) for target in targets if target[:1] == "/"):
            found.append(int(entry.name))
    return found
