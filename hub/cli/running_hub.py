"""The CLI's way into a running hub: a client, or a clear error and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from hub.cli.hub_client import HubClient, HubRequestError
from hub.settings import load_settings


@contextmanager
def running_hub(data_dir: Path | None, errors: Console) -> Iterator[HubClient]:
    """A client of the hub serving ``data_dir``; a missing hub or a refusal exits with status 1."""
    client = HubClient(load_settings(data_dir=data_dir), timeout=30)
    try:
        if not client.is_running():
            errors.print(f"[red]error:[/red] {escape(client.location.absence())}")
            raise typer.Exit(1)
        yield client
    except HubRequestError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


def answering_hub(client: HubClient, errors: Console) -> HubClient | None:
    """``client`` when its hub answers; None when no hub runs, so the command works on its own.

    A stale address file is mentioned; a hub process that is alive but silent (starting, or
    stuck) exits with status 1 rather than have the command work behind its back.
    """
    if client.is_running():
        return client
    location = client.location
    if location.stale:
        note = f"{location.stale_note()}; working without a hub"
        errors.print(f"[yellow]note:[/yellow] {escape(note)}")
    elif location.record is not None:
        errors.print(f"[red]error:[/red] {escape(location.absence())}")
        raise typer.Exit(1)
    return None


def utc_time(stamp: float | None) -> str:
    """A Unix time as 'YYYY-mm-dd HH:MM:SS' in UTC, or '-' when there is none."""
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_minute(stamp: float | None) -> str:
    """A Unix time as 'YYYY-mm-dd HH:MM' in this machine's zone, or 'never' when there is none."""
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
