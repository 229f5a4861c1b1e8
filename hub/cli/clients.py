"""`hub clients add|list|revoke`: credentials for the person's other programs, straight on
clients.db in the data directory (a running hub reads it on every request, so a revoked
credential is refused at once, and last-seen times show what the hub noted)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.cli.options import DataDirOption
from hub.cli.running_hub import local_minute
from hub.clients.scopes import SCOPES
from hub.clients.store import SqliteClientStore
from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.running_address import WILDCARD_HOSTS, read_running_address
from hub.settings import Settings, load_settings

app = typer.Typer(help="Credentials for other programs (Home Assistant, Open WebUI, ...).")
console = Console()
errors = Console(stderr=True)


@contextmanager
def _store(data_dir: DataDirOption) -> Iterator[tuple[Settings, SqliteClientStore]]:
    settings = load_settings(data_dir=data_dir)
    ensure_data_dir(settings.data_dir)
    store = SqliteClientStore.open(settings.data_dir)
    try:
        yield settings, store
    except HubError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        store.close()


def hub_address(settings: Settings) -> str:
    """HOST:PORT as another machine reaches this hub (the running one's, else the settings')."""
    running = read_running_address(settings.data_dir)
    host, port = settings.host, settings.port
    if running is not None and running.is_alive():
        host, port = running.host, running.port
    if host in WILDCARD_HOSTS:
        host = socket.gethostname().split(".", 1)[0] + ".local"
    elif ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The program, such as home-assistant.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help=f"Comma-separated, from: {', '.join(SCOPES)}. Such as chat,memory:read.",
        ),
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Make a credential for one program and print it (the only time it is shown)."""
    with _store(data_dir) as (settings, store):
        made = store.add(name, scopes)
    address = hub_address(settings)
    typer.echo(made.credential)
    errors.print(
        f"Client {escape(name)!r} may: {escape(', '.join(made.record.scopes))}. This is the only "
        "time the credential is shown; the hub keeps only its hash.\n"
        "Programs that send a header:\n"
        f"  Authorization: Bearer {escape(made.credential)}\n"
        "Programs that take only a URL (Home Assistant's Ollama integration):\n"
        f"  http://{escape(address)}/c/{escape(made.credential)}/\n"
        f"Revoke it with: hub clients revoke {escape(name)}",
        highlight=False,
    )


@app.command(name="list")
def list_clients(data_dir: DataDirOption = None) -> None:
    """Every client: its scopes, when it was made and last seen."""
    with _store(data_dir) as (_, store):
        records = store.list_clients()
    if not records:
        errors.print("No clients yet; make one with `hub clients add NAME --scopes chat`.")
        return
    table = Table("name", "scopes", "created", "last seen")
    for record in records:
        table.add_row(
            record.name,
            ", ".join(record.scopes),
            local_minute(record.created_at),
            local_minute(record.last_seen_at),
        )
    console.print(table)


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The client's name (`hub clients list`).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a client's credential: the running hub refuses it from its next request."""
    with _store(data_dir) as (_, store):
        store.revoke(name)
    errors.print(f"Revoked {escape(name)!r}: its credential no longer works.")
