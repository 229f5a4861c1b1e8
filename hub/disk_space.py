"""DiskSpaceGuard: writes that can grow without end (device frames, memories) are refused while
the data directory's disk is nearly full, so the hub, its databases and the system keep room.

One refusal serves both edges: ``DiskFullError`` is a ``HubError`` (HTTP 507 with code
``disk_full``) and a ``ProtocolError`` (the device link's ``error`` frame, without a ``seq``: the
device keeps the frames and resends them once space is freed).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from devices.errors import DISK_FULL, ProtocolError
from hub.errors import HubError

MB = 1_000_000
# statvfs is cheap, yet a busy hub commits many times a second: one reading serves a second.
CACHE_SECONDS = 1.0

FreeBytes = Callable[[Path], int]


def free_bytes(path: Path) -> int:
    """Bytes an ordinary user may still write on the filesystem holding ``path``."""
    return shutil.disk_usage(path).free


class DiskFullError(HubError, ProtocolError):
    """Too little free disk space to store more; says how to make room."""

    http_status = 507
    error_code = DISK_FULL
    error_type = "server_error"

    def __init__(self, message: str) -> None:
        ProtocolError.__init__(self, DISK_FULL, message)

    def __str__(self) -> str:
        return self.message


class DiskSpaceGuard:
    """Checks free space on the data directory's filesystem before a write that may grow."""

    def __init__(
        self,
        path: Path,
        min_free_bytes: int,
        free: FreeBytes = free_bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self._free = free
        self._clock = clock
        self._reading: tuple[float, int] | None = None  # (when, free bytes)

    def free_bytes(self) -> int:
        """Free bytes now (a reading up to a second old)."""
        now = self._clock()
        if self._reading is None or now - self._reading[0] >= CACHE_SECONDS:
            self._reading = (now, self._free(self.path))
        return self._reading[1]

    def check(self, what: str) -> None:
        """Raise DiskFullError when less than the minimum is free; ``what`` names the write."""
        if self.min_free_bytes <= 0:
            return
        free = self.free_bytes()
        if free >= self.min_free_bytes:
            return
        raise DiskFullError(
            f"the hub's disk is nearly full ({free / MB:,.0f} MB free of the "
            f"{self.min_free_bytes / MB:,.0f} MB it keeps free at {self.path}), so {what} "
            "are refused until there is room: delete data or shorten "
            "HUB_DEVICE_RAW_RETENTION_DAYS, move the data directory to a larger disk, or lower "
            "HUB_MIN_FREE_DISK_MB; devices keep their frames and resend them"
        )
