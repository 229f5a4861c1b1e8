"""FrameAdmission: what device frames must pass before they are committed: room on the disk,
and times not far ahead of the hub's clock. A refusal is a ProtocolError, which the link sends
as an ``error`` frame without acknowledging anything."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devices.media import MediaFrame
from devices.samples import MAX_AHEAD_S, SensorBatch, check_not_ahead
from hub.disk_space import DiskSpaceGuard
from hub.wearables.store import DataFrame


def frame_time(frame: DataFrame) -> tuple[str, float]:
    """The frame's type and its latest time (a batch's latest sample)."""
    if isinstance(frame, SensorBatch):
        return frame.TYPE, frame.latest
    if isinstance(frame, MediaFrame):
        return frame.type, frame.t
    return frame.TYPE, frame.t


@dataclass
class FrameAdmission:
    """Checks each group of a device's frames before the commit; None: no disk check."""

    disk_space: DiskSpaceGuard | None = None
    max_ahead_s: float = MAX_AHEAD_S
    clock: Callable[[], float] = field(default=time.time)

    def check(self, frames: Sequence[DataFrame]) -> None:
        """Raise DiskFullError (keep the frames, resend later) or a ProtocolError naming the
        first frame timed too far ahead (drop it)."""
        if self.disk_space is not None:
            self.disk_space.check("device frames")
        now = self.clock()
        for frame in frames:
            kind, latest = frame_time(frame)
            check_not_ahead(kind, frame.seq, latest, now, self.max_ahead_s)
