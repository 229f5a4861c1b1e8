"""An export file read in a child process, batch by batch, while the hub stores the batch before.

Parsing an export is pure Python (Apple Health's XML: a callback per record); storing is mostly
SQLite. In one process the two take turns holding the interpreter's lock, so an import used one
CPU; in a child the reader has a CPU of its own. The pipe holds about one batch: the child reads
the next batch while the hub stores this one, and waits when it is ahead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from devices.bridge_samples import BridgeSample, BridgeSampleError
from devices.imports.common import ImportContext, ImportFileError, local_zone, named_zone
from devices.imports.formats import import_format

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process with threads


class ImportReadError(Exception):
    """The reader found the file wrong; the message names the file, the place and the fix."""


@dataclass
class ReadBatch:
    """One batch from the reader: its readings, how many more bytes were read, what was left out
    so far (by reason), and the first few left out, named by their place."""

    samples: list[BridgeSample]
    bytes_read: int
    skipped: Counter[str] = field(default_factory=Counter)
    named: list[str] = field(default_factory=list)


def read_in_child(
    kind: str,
    path: Path,
    zone: str | None,
    batch_size: int,
    cpus: frozenset[int] | None = None,
) -> Generator[ReadBatch, None, None]:
    """The file's readings in batches, read by a child process (on ``cpus`` when given: the
    hub may keep to fewer CPUs than the machine has, and the reader should not share them);
    blocking (call it from a thread). A file the reader finds wrong raises ImportReadError;
    closing the iterator early stops the child."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_read, args=(kind, str(path), zone, batch_size, sender, cpus), daemon=True
    )
    child.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise ImportReadError(
                    f"{path.name}: the reader stopped unexpectedly; import it again"
                ) from None
            what, rows, read, skipped, named = message
            if what == "error":
                raise ImportReadError(rows[0] if rows else "the reader failed")
            batch = ReadBatch([BridgeSample(*row) for row in rows], read, Counter(skipped), named)
            if batch.samples or batch.bytes_read:
                yield batch
            if what == "end":
                return
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


def _read(
    kind: str,
    path: str,
    zone: str | None,
    batch_size: int,
    out: Connection,
    cpus: frozenset[int] | None,
) -> None:
    """The child: read the file and send its readings, as tuples, a batch at a time."""
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)
    context = ImportContext(zone=named_zone(zone) if zone else local_zone())
    read = 0

    def advance(count: int) -> None:
        nonlocal read
        read += count

    context.advance = advance
    rows: list[tuple[str, float, float | tuple[float, ...], str]] = []

    def send(what: str, payload: list[object]) -> None:
        nonlocal read
        out.send((what, payload, read, dict(context.skipped), list(context.named)))
        read = 0

    try:
        for sample in import_format(kind).read(Path(path), context):
            rows.append((sample.kind, sample.t, sample.v, sample.key))
            if len(rows) >= batch_size:
                send("batch", list(rows))
                rows.clear()
        send("end", list(rows))
    except (ImportFileError, BridgeSampleError, ValueError, OSError) as exc:
        # (A broken pipe is an OSError too: the hub stopped listening, and this send fails.)
        with contextlib.suppress(OSError):
            send("error", [str(exc)])
    finally:
        out.close()
