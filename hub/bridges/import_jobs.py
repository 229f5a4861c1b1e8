"""Imports a running hub takes from the Devices page: the file is uploaded to the data
directory, read in the background one import at a time, and its progress can be asked for.

What is stored goes through ``BridgeService.store_samples``, so the running hub's listeners
(rates, sensor summaries) hear of it as they do of a live bridge; the upload is deleted when
the import ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

from devices.bridge_samples import BridgeSample, BridgeSampleError
from devices.imports.common import (
    ImportFileError,
    ImportFormat,
    local_zone,
    named_zone,
)
from devices.imports.formats import import_format
from hub.bridges.import_reader import ImportReadError, read_in_child
from hub.bridges.import_target import ImportTarget
from hub.bridges.service import BridgeService
from hub.errors import HubError

logger = logging.getLogger(__name__)

UPLOADS_FOLDER = "imports"
# Readings per transaction: a bigger batch spreads each commit's disk sync and rollup
# statements over more readings.
BATCH = 20_000
JOBS_KEPT = 20  # finished imports still listed
FREE_SPACE_MARGIN_BYTES = 1 << 30  # an upload never fills the data disk


class ImportRequestError(HubError):
    """An import that cannot start: unknown format or zone, an empty or too big file."""

    error_code = "invalid_import"


class ImportTooLargeError(ImportRequestError):
    """The file is larger than imports take, or than the data disk has room for."""

    http_status = 413


class UnknownImportError(HubError):
    """No import has this id (finished ones are listed only for a while)."""

    http_status = 404
    error_code = "unknown_import"


@dataclass
class ImportJob:
    """One import and how far it has come."""

    id: str
    kind: str
    file_name: str
    dry_run: bool
    started_at: float
    state: str = "uploading"  # uploading, queued, reading, done, failed
    total_bytes: int = 0
    bytes_read: int = 0
    readings: int = 0
    stored: int = 0  # new readings stored; in a dry run, readings the hub already has
    by_kind: Counter[str] = field(default_factory=Counter)
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)  # first, last reading
    skipped: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    finished_at: float | None = None


@dataclass(frozen=True)
class ImportRequest:
    """What the person asked to import."""

    kind: str
    file_name: str
    zone: str | None  # of the file's local times; None: this machine's
    dry_run: bool


class ImportJobs:
    """Uploads and background imports of export files into the bridge of their format."""

    def __init__(
        self,
        bridges: BridgeService,
        data_dir: Path,
        max_bytes: int,
        reader_cpus: frozenset[int] | None = None,
    ) -> None:
        self.bridges = bridges
        self.reader_cpus = reader_cpus  # where the reader's child runs (None: where the hub does)
        self.folder = data_dir / UPLOADS_FOLDER
        self.max_bytes = max_bytes
        self.jobs: dict[str, ImportJob] = {}
        self._one_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Delete uploads a stopped hub left behind (their imports died with it)."""
        if self.folder.is_dir():
            for stale in self.folder.glob(".upload-*"):
                shutil.rmtree(stale, ignore_errors=True)

    async def close(self) -> None:
        """Stop every import; their uploads are deleted."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def get(self, job_id: str) -> ImportJob:
        """The import with this id, or UnknownImportError."""
        job = self.jobs.get(job_id)
        if job is None:
            raise UnknownImportError(f"no import {job_id!r}; GET /v1/bridges/imports lists them")
        return job

    def listed(self) -> list[ImportJob]:
        """Every import still remembered, newest first."""
        return sorted(self.jobs.values(), key=lambda job: job.started_at, reverse=True)

    async def upload(
        self, request: ImportRequest, declared: int, chunks: AsyncIterator[bytes]
    ) -> ImportJob:
        """Save the uploaded file and start reading it in the background; the job at once."""
        found = _format(request.kind)
        _zone(request.zone)
        if declared <= 0:
            raise ImportRequestError("the file is empty: choose the exported file itself")
        if declared > self.max_bytes:
            raise ImportTooLargeError(
                f"the file is {declared:,} bytes; imports take up to {self.max_bytes:,} "
                "(HUB_IMPORT_MAX_BYTES), or use `hub import` on the hub's machine"
            )
        job = ImportJob(
            id=f"imp_{secrets.token_hex(8)}",
            kind=found.name,
            file_name=_safe_name(request.file_name) or found.name,
            dry_run=request.dry_run,
            started_at=time.time(),
            total_bytes=declared,
        )
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        free = (await asyncio.to_thread(shutil.disk_usage, self.folder)).free
        if free < declared + FREE_SPACE_MARGIN_BYTES:
            raise ImportTooLargeError(
                f"the data disk has {free >> 20:,} MiB free; the upload needs {declared >> 20:,} "
                "MiB and room to spare: free some space, or use `hub import` on the file"
            )
        self._remember(job)
        # In a folder of its own, under the person's own file name: errors name that file, and
        # readers that go by the name's ending (export.zip or export.xml) see the real one.
        path = self.folder / f".upload-{job.id}" / job.file_name
        try:
            await self._save(chunks, path, job)
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            self.jobs.pop(job.id, None)
            raise
        job.state = "queued"
        task = asyncio.create_task(self._run(job, path, found, request.zone))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _remember(self, job: ImportJob) -> None:
        self.jobs[job.id] = job
        finished = [j for j in self.listed() if j.finished_at is not None]
        for old in finished[JOBS_KEPT:]:
            self.jobs.pop(old.id, None)

    async def _save(self, chunks: AsyncIterator[bytes], path: Path, job: ImportJob) -> None:
        await asyncio.to_thread(path.parent.mkdir)
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            received = 0
            try:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > job.total_bytes:
                        raise ImportRequestError("the upload is longer than its Content-Length")
                    await asyncio.to_thread(handle.write, chunk)
            except HubError:
                raise
            except Exception as exc:  # the client left mid-upload: nothing was imported
                raise ImportRequestError("the upload was cut off; send the file again") from exc
            if received != job.total_bytes:
                raise ImportRequestError(
                    f"the upload ended after {received:,} of {job.total_bytes:,} bytes; send it "
                    "again"
                )
        finally:
            await asyncio.to_thread(handle.close)

    async def _run(self, job: ImportJob, path: Path, found: ImportFormat, zone: str | None) -> None:
        try:
            async with self._one_at_a_time:
                job.state = "reading"
                await self._read(job, path, found, zone)
            job.state = "done"
        except (ImportFileError, ImportReadError, BridgeSampleError, HubError) as exc:
            job.state, job.error = "failed", str(exc)
        except asyncio.CancelledError:
            job.state, job.error = "failed", "the hub stopped during the import; import it again"
            raise
        except Exception as exc:  # an import never takes the hub down; the log has the trace
            logger.exception("import %s failed", job.id)
            job.state, job.error = "failed", f"the import failed: {exc}"
        finally:
            job.finished_at = time.time()
            await asyncio.to_thread(shutil.rmtree, path.parent, True)

    async def _read(
        self, job: ImportJob, path: Path, found: ImportFormat, zone: str | None
    ) -> None:
        target = await asyncio.to_thread(ImportTarget, self.bridges.store.devices, found.name)
        batches = read_in_child(found.name, path, zone, BATCH, self.reader_cpus)
        # The child reads the next batch while this one is stored (see import_reader.py).
        reading = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        try:
            while (read := await reading) is not None:
                reading = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                batch = read.samples
                job.bytes_read = min(job.bytes_read + read.bytes_read, job.total_bytes)
                job.readings += len(batch)
                job.by_kind.update(sample.kind for sample in batch)
                _widen_spans(job.spans, batch)
                job.skipped = read.skipped
                if not batch:
                    continue
                if job.dry_run:
                    job.stored += len(await asyncio.to_thread(target.already_stored, batch))
                else:
                    device_id = (await asyncio.to_thread(target.bridge)).id
                    job.stored += await self.bridges.store_samples(device_id, batch)
        finally:
            if not reading.done():  # a failed store: let the read in flight end first
                with contextlib.suppress(Exception):
                    await asyncio.shield(reading)
            await asyncio.to_thread(batches.close)
        job.bytes_read = job.total_bytes


def _widen_spans(spans: dict[str, tuple[float, float]], batch: list[BridgeSample]) -> None:
    for sample in batch:
        first, last = spans.get(sample.kind, (sample.t, sample.t))
        spans[sample.kind] = (min(first, sample.t), max(last, sample.t))


def _safe_name(name: str) -> str:
    """The file's own name, fit for the upload's folder: no path, no leading dot, not too long."""
    base = Path(name.replace("\\", "/")).name.lstrip(".")
    return "".join(c if c.isprintable() and c not in "/\0" else "_" for c in base)[:200]


def _format(kind: str) -> ImportFormat:
    try:
        return import_format(kind)
    except ValueError as exc:
        raise ImportRequestError(str(exc)) from exc


def _zone(name: str | None) -> tzinfo:
    if not name:
        return local_zone()
    try:
        return named_zone(name)
    except ValueError as exc:
        raise ImportRequestError(str(exc)) from exc
