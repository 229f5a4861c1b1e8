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

from hub.backup import BackupError, create_backup, restore_backup
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


def restore(
    path: BackupPathArgument,
    data_dir: DataDirOption = None,
    force: Annotated[
        bool,
        typer.Option(help="Restore over a non-empty data directory (its contents are kept aside)."),
    ] = False,
) -> None:
    """Verify the backup at PATH and restore it into an empty data directory."""
    console = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    try:
        total = sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
        with _file_bars(console) as bars:
            checking = bars.track("Checking", total)
            restoring = bars.track("Restoring", total)
            manifest, moved_to = restore_backup(path, settings.data_dir, force, restoring, checking)
    except (BackupError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"Restored {len(manifest.files)} file(s) from a backup taken {manifest.created_at} "
        f"into {settings.data_dir}; the hub brings older schemas up to date when it starts."
    )
    if moved_to is not None:
        console.print(f"The previous contents were moved to {moved_to}.")
