"""`hub bridges ble scan|add`: heart-rate straps, watches and Omi pendants over Bluetooth LE.

Scanning uses this machine's radio directly (through bleak, the extra `ble`); adding writes the
bridge into devices.db in the data directory, where a hub running with HUB_BLE_ENABLED=true
finds it within seconds and keeps it connected."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devices.ble.bleak_backend import BleUnavailableError, bleak_scan
from devices.ble.scan import Scanner, usable
from hub.bridges.ble import BLE_KINDS, add_ble_bridge
from hub.bridges.store import BridgeStore
from hub.cli.options import DataDirOption
from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.settings import load_settings
from hub.wearables.store import DeviceStore

app = typer.Typer(help="Bluetooth LE bridges: heart-rate straps and watches, Omi pendants.")
console = Console()
errors = Console(stderr=True)


def scan_with(scanner: Scanner, seconds: float) -> None:
    """List the usable devices ``scanner`` hears in ``seconds`` (tests pass a fake radio)."""
    try:
        heard = asyncio.run(scanner(seconds))
    except BleUnavailableError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    found = usable(heard)
    if not found:
        errors.print(
            f"No heart-rate device or Omi pendant heard in {seconds:g} s ({len(heard)} other "
            "Bluetooth devices). Wake the strap (wear it: most sleep off the skin), or turn on "
            "the watch's heart-rate broadcast, and scan again."
        )
        return
    table = Table("address", "name", "kind", "signal (dBm)")
    for kind, advert in found:
        rssi = "-" if advert.rssi is None else str(advert.rssi)
        table.add_row(advert.address, escape(advert.name or "-"), kind, rssi)
    console.print(table)
    kind, first = found[0]
    errors.print(f"Add one with: hub bridges ble add {first.address} --kind {kind}")


@app.command()
def scan(
    seconds: Annotated[
        float, typer.Option("--seconds", min=1.0, max=120.0, help="How long to listen.")
    ] = 8.0,
) -> None:
    """List nearby heart-rate straps and watches (Heart Rate service) and Omi pendants."""
    scan_with(bleak_scan, seconds)


@app.command()
def add(
    address: Annotated[str, typer.Argument(help="The device's address (`hub bridges ble scan`).")],
    kind: Annotated[
        str, typer.Option("--kind", help="heart-rate (a strap or watch) or omi (the pendant).")
    ] = "heart-rate",
    name: Annotated[str, typer.Option("--name", help="Such as 'Polar H10'.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Add a Bluetooth LE bridge; a hub running with HUB_BLE_ENABLED=true connects to it."""
    if kind not in BLE_KINDS:
        errors.print(f"[red]error:[/red] --kind takes one of: {', '.join(BLE_KINDS)}")
        raise typer.Exit(2)
    settings = load_settings(data_dir=data_dir)
    ensure_data_dir(settings.data_dir)
    devices = DeviceStore.open(settings.data_dir)
    try:
        bridge = add_ble_bridge(BridgeStore(devices), kind, name, address)
    except HubError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        devices.close()
    typer.echo(bridge.record.id)
    running = (
        "The hub connects to it within seconds and reconnects whenever it comes back in range."
        if settings.ble_enabled
        else "The hub connects to Bluetooth bridges only with HUB_BLE_ENABLED=true (or "
        "ble_enabled = true in hub.toml): set it and restart the hub."
    )
    errors.print(
        f"Bridge {escape(bridge.record.name)!r} ({bridge.record.kind}) reads {bridge.address} "
        f"as device {bridge.record.id}. {running}\n"
        f"Revoke it with: hub bridges revoke {bridge.record.id}",
        highlight=False,
    )
