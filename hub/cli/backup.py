"""`hub backup PATH` and `hub restore PATH`: a consistent copy of the data directory, and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from hub.backup import BackupError, RestoreResult, create_backup, restore_backup
from hub.backup.create import plan_backup
from hub.backup.progress import Progress as ProgressCallback
from hub.cli.options import DataDirOption
from hub.settings import load_settings

BackupPathArgument = Annotated[Path, typer.Argument(help="The backup's folder.")]


class _FileBars:
    """Byte-counting progress bars, one per step; each callback advances past the last file."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar

    def track(self, label: str, total: int) -> ProgressCallback:
        """A new bar for one step over ``total`` bytes; returns its progress callback."""
        task = self._bar.add_task(label, total=max(total, 1), file="")
        pending = [0]

        def advance(relative: str, size: int) -> None:
            self._bar.update(task, advance=pending[0], file=relative)
            pending[0] = size

        return advance

    def finish(self) -> None:
        """Fill every bar (the last file of each step has been handled)."""
        for task in self._bar.tasks:
            self._bar.update(task.id, completed=task.total, file="done")


@contextmanager
def _file_bars(console: Console) -> Iterator[_FileBars]:
    columns = (
        TextColumn("{task.description} [bold]{task.fields[file]}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        bars = _FileBars(bar)
        yield bars
        bars.finish()


def backup(path: BackupPathArgument, data_dir: DataDirOption = None) -> None:
    """Back up the data directory to PATH (a new folder); safe while the hub runs."""
    console = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    try:
        items, _ = plan_backup(settings.data_dir)
        with _file_bars(console) as bars:
            advance = bars.track("Backing up", sum(item.size for item in items))
            manifest = create_backup(settings.data_dir, path, advance)
    except BackupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    databases = sum(1 for entry in manifest.files if entry.kind == "sqlite")
    console.print(
        f"Backed up {settings.data_dir} to {path}: {databases} database(s), "
        f"{len(manifest.files) - databases} other file(s), checksums in manifest.json."
    )
    if manifest.skipped:
        console.print(
            f"Left out {', '.join(manifest.skipped)}: caches the hub re-creates when it starts."
        )


def _report_restore(console: Console, result: RestoreResult, data_dir: Path) -> None:
    """Say what was restored, and what was held back for the person to look at."""
    manifest = result.manifest
    # soft_wrap: paths stay whole, to be copied from the terminal.
    console.print(
        f"Restored {len(manifest.files)} file(s) from a backup taken {manifest.created_at} "
        f"into {data_dir}; the hub brings older schemas up to date when it starts.",
        soft_wrap=True,
    )
    if result.moved_to is not None:
        console.print(f"The previous contents were moved to {result.moved_to}.", soft_wrap=True)
    if result.settings.set_aside is not None:
        kept = "this machine's hub.toml was kept"
        if not result.settings.kept_current:
            kept = "the hub starts with its default settings (this machine only, token required)"
        console.print(
            f"The backup's settings were set aside in {data_dir / result.settings.set_aside} "
            f"and {kept}: review them (listen address, token, ports) and copy what you want "
            "into hub.toml.",
            soft_wrap=True,
        )
    for name, path, reason in result.dropped_models:
        console.print(
            f"Model not restored: {name} ({path}): {reason}; once that is fixed, add it with "
            f"`hub models add PATH --name {name}`.",
            soft_wrap=True,
        )
    if result.held_satellites:
        console.print(
            "Satellites the backup approved wait for your approval again: "
            f"{', '.join(result.held_satellites)}; approve each with `hub voice approve ID`.",
            soft_wrap=True,
        )


def restore(
    path: BackupPathArgument,
    data_dir: DataDirOption = None,
    force: Annotated[
        bool,
        typer.Option(help="Restore over a non-empty data directory (its contents are kept aside)."),
    ] = False,
) -> None:
    """Restore the backup at PATH into an empty data directory, checking every file."""
    console = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    try:
        total = sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
        with _file_bars(console) as bars:
            restoring = bars.track("Checking and restoring", total)
            result = restore_backup(path, settings.data_dir, force, restoring)
    except (BackupError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _report_restore(console, result, settings.data_dir)
