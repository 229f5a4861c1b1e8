"""`hub import KIND FILE [--dry-run] [--tz ZONE]`: readings from an app's or device's export,
each stored once, with a progress bar by bytes read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated

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
from hub.cli.options import DataDirOption
from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.settings import load_settings

BATCH = 5_000  # readings per transaction: big enough to be quick, small enough to resume
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
    Gadgetbridge or Garmin FIT. Importing the same file again adds nothing."""
    try:
        found = import_format(kind)
        zone = named_zone(tz) if tz else local_zone()
    except ValueError as exc:
        raise _fail(str(exc)) from exc
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
