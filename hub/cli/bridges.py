"""`hub bridges add|list|revoke|kinds`: apps and devices that reach the hub without pairing,
straight on devices.db in the data directory (a running hub checks a bridge's secret there on
every request, so a new bridge works and a revoked one is refused at once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.bridges.hints import setup_hints
from hub.bridges.kinds import BRIDGE_KINDS, kind_added_by_secret
from hub.bridges.secrets import SecretHashes, new_secret
from hub.bridges.store import BridgeStore
from hub.cli import bridges_ble
from hub.cli.clients import hub_address
from hub.cli.options import DataDirOption
from hub.cli.running_hub import local_minute
from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.settings import Settings, load_settings
from hub.wearables.store import DeviceStore

app = typer.Typer(help="Bridges: apps and devices that cannot pair (xDrip+, Omi, exports, ...).")
app.add_typer(bridges_ble.app, name="ble")
console = Console()
errors = Console(stderr=True)


@contextmanager
def _store(data_dir: DataDirOption) -> Iterator[tuple[Settings, BridgeStore]]:
    settings = load_settings(data_dir=data_dir)
    ensure_data_dir(settings.data_dir)
    devices = DeviceStore.open(settings.data_dir)
    try:
        yield settings, BridgeStore(devices)
    except HubError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        devices.close()


@app.command()
def add(
    kind: Annotated[str, typer.Argument(help="The kind of bridge (`hub bridges kinds`).")],
    name: Annotated[str, typer.Option("--name", help="Such as 'xDrip phone'.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Add a bridge and print its secret and what to enter in the app (shown only now)."""
    with _store(data_dir) as (settings, store):
        secret = new_secret()
        record = store.add(
            kind_added_by_secret(kind), name.strip() or kind, SecretHashes.of(secret)
        )
    typer.echo(secret)
    lines = setup_hints(record.kind, f"http://{hub_address(settings)}", secret)
    errors.print(
        f"Bridge {escape(record.name)!r} ({escape(record.kind)}) is device {record.id}. "
        "This is the only time its secret is shown; the hub keeps only hashes of it.\n"
        + "\n".join(f"  {escape(line)}" for line in lines)
        + f"\nRevoke it with: hub bridges revoke {record.id}",
        highlight=False,
    )


@app.command(name="list")
def list_bridges(data_dir: DataDirOption = None) -> None:
    """Every bridge: its id, kind, name, status and when it last sent."""
    with _store(data_dir) as (_, store):
        records = store.bridges()
    if not records:
        errors.print("No bridges yet; add one with `hub bridges add nightscout --name phone`.")
        return
    table = Table("id", "kind", "name", "status", "added", "last sent")
    for record in records:
        table.add_row(
            record.id,
            record.kind,
            escape(record.name),
            record.status,
            local_minute(record.created_at),
            local_minute(record.last_seen),
        )
    console.print(table)


@app.command()
def revoke(
    device_id: Annotated[str, typer.Argument(help="The bridge's id (`hub bridges list`).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a bridge: its secret is refused from the next request; its data stays."""
    with _store(data_dir) as (_, store):
        if store.get(device_id) is None:
            known = "see `hub bridges list`"
            errors.print(f"[red]error:[/red] no bridge {escape(device_id)!r}; {known}")
            raise typer.Exit(1)
        store.devices.revoke(device_id)
    errors.print(f"Revoked {escape(device_id)}: its secret no longer works.")


@app.command()
def kinds() -> None:
    """The kinds of bridge the hub knows and what each brings."""
    table = Table("kind", "what", "arrives by", "brings")
    for kind in BRIDGE_KINDS.values():
        table.add_row(kind.name, kind.label, kind.arrives, ", ".join(kind.sends))
    console.print(table)
