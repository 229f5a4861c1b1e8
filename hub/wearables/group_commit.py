"""GroupCommitter: frames of every link that arrive while a commit runs go together into the
next one, so many streaming devices share each disk sync instead of queueing one sync each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.wearables.admission import FrameAdmission
from hub.wearables.store import DataFrame, DeviceStore

logger = logging.getLogger(__name__)

Committed = tuple[int, list[DataFrame]]


@dataclass
class _Request:
    device_id: str
    frames: Sequence[DataFrame]
    done: asyncio.Future[Committed] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _retrieve(future: asyncio.Future[Committed]) -> None:
    """Mark the outcome seen: the link that asked may have been cut off and gone."""
    if not future.cancelled():
        future.exception()


class GroupCommitter:
    """One commit at a time in a worker thread; each takes every request waiting for it."""

    def __init__(self, store: DeviceStore, admission: FrameAdmission | None = None) -> None:
        self.store = store
        self.admission = admission or FrameAdmission()
        self._waiting: list[_Request] = []
        self._running: asyncio.Task[None] | None = None
        self.commits = 0

    async def commit(self, device_id: str, frames: Sequence[DataFrame]) -> Committed:
        """Commit the device's frames (with whatever else waits); its acked seq and the frames
        stored now. Raises DeviceNotPairedError for this device alone, and the admission's
        ProtocolError (a full disk, a clock far ahead) before anything is committed."""
        self.admission.check(device_id, frames)
        request = _Request(device_id, frames)
        request.done.add_done_callback(_retrieve)
        self._waiting.append(request)
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        # Shielded: a link cut off meanwhile must not cancel the commit others wait on.
        return await asyncio.shield(request.done)

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            batches = [(request.device_id, request.frames) for request in group]
            try:
                results = await asyncio.to_thread(self.store.commit_many, batches)
            except Exception as exc:  # the whole transaction rolled back: nobody is acked
                logger.exception("committing %d device batches failed", len(group))
                for request in group:
                    if not request.done.done():
                        request.done.set_exception(exc)
                continue
            self.commits += 1
            for request, result in zip(group, results, strict=True):
                if not isinstance(result, Exception):
                    self.admission.stored(request.device_id, result[1])
                if request.done.done():
                    continue
                if isinstance(result, Exception):
                    request.done.set_exception(result)
                else:
                    request.done.set_result(result)
