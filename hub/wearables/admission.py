"""FrameAdmission: what device frames must pass before they are committed: room on the disk,
the device's daily media quota, and times not far ahead of the hub's clock. A refusal is a
ProtocolError, which the link sends as an ``error`` frame without acknowledging anything."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devices.errors import QUOTA_EXCEEDED, ProtocolError
from devices.media import MediaFrame
from devices.samples import MAX_AHEAD_S, SensorBatch, check_not_ahead
from hub.disk_space import MB, DiskSpaceGuard
from hub.wearables.store import DataFrame

DAY = 86_400.0


def frame_time(frame: DataFrame) -> tuple[str, float]:
    """The frame's type and its latest time (a batch's latest sample)."""
    if isinstance(frame, SensorBatch):
        return frame.TYPE, frame.latest
    if isinstance(frame, MediaFrame):
        return frame.type, frame.t
    return frame.TYPE, frame.t


def media_bytes(frames: Sequence[DataFrame]) -> int:
    """Bytes of audio and camera payload among the frames."""
    return sum(len(frame.payload) for frame in frames if isinstance(frame, MediaFrame))


@dataclass
class FrameAdmission:
    """Checks each group of a device's frames before the commit; None: no disk check, a
    quota of 0: none."""

    disk_space: DiskSpaceGuard | None = None
    max_ahead_s: float = MAX_AHEAD_S
    media_bytes_per_day: int = 0
    clock: Callable[[], float] = field(default=time.time)
    # Media stored per device on the current UTC day (day number, bytes); counted in memory,
    # so a restart of the hub starts the day's count afresh.
    _media_today: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The highest seq stored per device: frames at or below it are resends, stored already.
    _top_seq: dict[str, int] = field(default_factory=dict)

    def check(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Raise DiskFullError or the quota's ProtocolError (keep the frames, resend later),
        or a ProtocolError naming the first frame timed too far ahead (drop it)."""
        if self.disk_space is not None:
            self.disk_space.check("device frames")
        now = self.clock()
        for frame in frames:
            kind, latest = frame_time(frame)
            check_not_ahead(kind, frame.seq, latest, now, self.max_ahead_s)
        top = self._top_seq.get(device_id, 0)
        self._check_quota(device_id, media_bytes([f for f in frames if f.seq > top]), now)

    def stored(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Count newly stored frames (never resent ones) against the device's quota."""
        adding = media_bytes(frames)
        if adding and self.media_bytes_per_day > 0:
            top = max(frame.seq for frame in frames)
            self._top_seq[device_id] = max(self._top_seq.get(device_id, 0), top)
            self._media_today[device_id] = (self._today(), self.media_today(device_id) + adding)

    def media_today(self, device_id: str) -> int:
        """Bytes of media the device has stored today (UTC)."""
        day, used = self._media_today.get(device_id, (self._today(), 0))
        return used if day == self._today() else 0

    def _today(self) -> int:
        return int(self.clock() // DAY)

    def _check_quota(self, device_id: str, adding: int, now: float) -> None:
        if not adding or self.media_bytes_per_day <= 0:
            return
        # Refused once the quota is reached, not when a batch would pass it: a batch larger than
        # the whole quota would otherwise wait forever (one batch overshoots, 512 MiB at most).
        used = self.media_today(device_id)
        if used < self.media_bytes_per_day:
            return
        hours = (DAY - now % DAY) / 3600
        raise ProtocolError(
            QUOTA_EXCEEDED,
            f"this device has stored {used / MB:,.0f} MB of audio and camera frames today, "
            f"its daily quota is {self.media_bytes_per_day / MB:,.0f} MB "
            f"(HUB_DEVICE_MEDIA_MB_PER_DAY): keep the frames and send them again after "
            f"midnight UTC, in {hours:.1f} h; send less media, or ask the owner to raise it",
        )
