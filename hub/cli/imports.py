"""`hub import KIND FILE [--dry-run] [--tz ZONE]`: readings from an app's or device's export,
each stored once, with a progress bar by bytes read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from devices.bridge_samples import BridgeSample, BridgeSampleError
from devices.imports.common import ImportContext, ImportFileError, local_zone, named_zone
from devices.imports.formats import IMPORT_FORMATS, import_format
from hub.bridges.import_target import ImportTarget
from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.settings import load_settings

BATCH = 5_000  # readings per transaction: big enough to be quick, small enough to resume
UPLOAD_CHUNK = 1 << 20
POLL_SECONDS = 0.2
console = Console()
errors = Console(stderr=True)


@dataclass
class KindTally:
    """What one sensor kind of the file came to."""

    readings: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    stored: int = 0  # new ones stored, or (dry run) ones the hub already has

    def add(self, sample: BridgeSample) -> None:
        """Count one reading of the file."""
        self.readings += 1
        self.first = min(self.first, sample.t)
        self.last = max(self.last, sample.t)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def _target(data_dir: Path | None, kind: str, dry_run: bool) -> Iterator[ImportTarget | None]:
    settings = load_settings(data_dir=data_dir)
    if not dry_run:
        ensure_data_dir(settings.data_dir)
    target = ImportTarget.open(settings.data_dir, kind, create=not dry_run)
    try:
        yield target
    finally:
        if target is not None:
            target.close()


def _store(
    batch: list[BridgeSample],
    target: ImportTarget | None,
    tally: dict[str, KindTally],
    dry_run: bool,
) -> None:
    if target is None:
        return
    counted = target.already_stored(batch) if dry_run else target.commit(batch)
    for sample in counted:
        tally[sample.kind].stored += 1


def import_file(
    kind: Annotated[str, typer.Argument(help=f"The export's format: {', '.join(IMPORT_FORMATS)}.")],
    file: Annotated[Path, typer.Argument(help="The exported file (export.zip, .csv, .fit, ...).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be added; store nothing.")
    ] = False,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Zone of the file's local times (default: this machine's)."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import an export: Apple Health, Health Auto Export, Dexcom Clarity, LibreView,
    Gadgetbridge or Garmin FIT. Importing the same file again adds nothing. With a hub
    running, the file goes through it, so its sensor summaries follow at once."""
    try:
        found = import_format(kind)
        zone = named_zone(tz) if tz else local_zone()
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    client = HubClient(load_settings(data_dir=data_dir), timeout=60)
    try:
        hub = answering_hub(client, errors)
        if hub is not None:
            try:
                size = found.size(file)
            except ImportFileError as exc:
                raise _fail(str(exc)) from exc
            job = _through_hub(hub, found.name, file, size, tz, dry_run)
            _report_job(found.label, job, zone)
            return
    finally:
        client.close()
    tally: dict[str, KindTally] = {}
    context = ImportContext(zone=zone)
    try:
        size = found.size(file)
        with _target(data_dir, found.name, dry_run) as target, _progress() as progress:
            task = progress.add_task(file.name, total=size)
            context.advance = lambda count: progress.advance(task, count)
            batch: list[BridgeSample] = []
            for sample in found.read(file, context):
                tally.setdefault(sample.kind, KindTally()).add(sample)
                batch.append(sample)
                if len(batch) >= BATCH:
                    _store(batch, target, tally, dry_run)
                    batch = []
            _store(batch, target, tally, dry_run)
    except (ImportFileError, BridgeSampleError, HubError) as exc:
        after = "" if dry_run else " (what came before it is stored; running again adds the rest)"
        raise _fail(f"{exc}{after}") from exc
    _report(found.label, tally, context, zone, dry_run, target is not None)


def _through_hub(
    hub: HubClient, kind: str, file: Path, size: int, tz: str | None, dry_run: bool
) -> dict[str, Any]:
    """Upload ``file`` to the running hub's import and follow it to its end: the finished job."""
    params: dict[str, Any] = {"kind": kind, "file_name": file.name, "dry_run": dry_run}
    if tz:
        params["tz"] = tz
    with _progress() as progress:
        sending = progress.add_task(f"sending {file.name} to the hub", total=size)

        def chunks() -> Iterator[bytes]:
            with file.open("rb") as handle:
                while chunk := handle.read(UPLOAD_CHUNK):
                    progress.advance(sending, len(chunk))
                    yield chunk

        try:
            job = hub.call(
                "POST",
                "/v1/bridges/imports",
                params=params,
                content=chunks(),
                headers={"Content-Length": str(size)},
            )
            reading = progress.add_task(f"the hub reads {file.name}", total=size)
            while job["state"] not in ("done", "failed"):
                progress.update(reading, completed=job["bytes_read"])
                time.sleep(POLL_SECONDS)
                job = hub.call("GET", f"/v1/bridges/imports/{job['id']}")
            progress.update(reading, completed=job["bytes_read"])
        except HubRequestError as exc:
            raise _fail(str(exc)) from exc
    if job["state"] == "failed":
        after = "" if dry_run else " (what came before it is stored; running again adds the rest)"
        raise _fail(f"{job['error']}{after}")
    return job


def _report_job(label: str, job: dict[str, Any], zone: tzinfo) -> None:
    """What an import through the hub came to, as the direct import reports it."""
    if not job["by_kind"]:
        console.print(f"No readings the hub keeps were found in this {label}.")
    else:
        table = Table("kind", "readings", f"from ({zone})", "to", title=label)
        for kind, count in sorted(job["by_kind"].items()):
            first, last = job["spans"][kind]
            table.add_row(kind, f"{count:,}", _when(first, zone), _when(last, zone))
        console.print(table)
    for reason, count in sorted(job["skipped"].items()):
        console.print(f"left out: {count:,} ({escape(reason)})", soft_wrap=True)
    total, known = job["readings"], job["stored"]
    if job["dry_run"]:
        console.print(f"Dry run: would add {total - known:,} of {total:,} readings.")
    else:
        console.print(f"Stored {known:,} new readings of {total:,} (through the running hub).")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=errors,
    )


def _when(seconds: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M")


def _report(
    label: str,
    tally: dict[str, KindTally],
    context: ImportContext,
    zone: tzinfo,
    dry_run: bool,
    reachable: bool,
) -> None:
    if not tally:
        console.print(f"No readings the hub keeps were found in this {label}.")
    else:
        last = "already stored" if dry_run else "new"
        table = Table("kind", "readings", f"from ({zone})", "to", last, title=label)
        for kind, counts in sorted(tally.items()):
            table.add_row(
                kind,
                f"{counts.readings:,}",
                _when(counts.first, zone),
                _when(counts.last, zone),
                f"{counts.stored:,}" if reachable else "-",
            )
        console.print(table)
    for reason, count in sorted(context.skipped.items()):
        console.print(f"left out: {count:,} ({escape(reason)})", soft_wrap=True)
    total = sum(counts.readings for counts in tally.values())
    known = sum(counts.stored for counts in tally.values())
    if dry_run and reachable:
        console.print(f"Dry run: would add {total - known:,} of {total:,} readings.")
    elif dry_run:
        console.print(f"Dry run: would add {total:,} readings (the hub has no data here yet).")
    else:
        console.print(f"Stored {known:,} new readings of {total:,}.")
