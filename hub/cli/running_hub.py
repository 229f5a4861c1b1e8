"""The CLI's way into a running hub: a client, or a clear error and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from hub.cli.hub_client import HubClient, HubRequestError
from hub.settings import load_settings


@contextmanager
def running_hub(data_dir: Path | None, errors: Console) -> Iterator[HubClient]:
    """A client of the hub serving ``data_dir``; a missing hub or a refusal exits with status 1."""
    client = HubClient(load_settings(data_dir=data_dir), timeout=30)
    try:
        if not client.is_running():
            errors.print(
                f"[red]error:[/red] no hub answers at {client.base_url}; start it with `hub serve`"
            )
            raise typer.Exit(1)
        yield client
    except HubRequestError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


def utc_time(stamp: float | None) -> str:
    """A Unix time as 'YYYY-mm-dd HH:MM:SS' in UTC, or '-' when there is none."""
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
