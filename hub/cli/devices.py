"""`hub devices list|pair|revoke`: wearables, through the running hub's API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.options import DataDirOption
from hub.cli.running_hub import running_hub, utc_time

app = typer.Typer(
    help="Wearables: list, pair (with the code a device shows), revoke; the sensor kinds."
)
console = Console()
errors = Console(stderr=True)


def _rates(device: dict[str, Any]) -> str:
    """Samples/s per sample kind and frames/s of media over the last minute, e.g. 'heart_rate
    1/s, audio 50 frames/s'."""
    rates = device.get("rates") or {}
    parts = [f"{kind} {rate:g}/s" for kind, rate in (rates.get("samples_per_s") or {}).items()]
    frames = rates.get("frames_per_s") or {}
    parts += [f"{kind} {frames[kind]:g} frames/s" for kind in ("audio", "camera") if kind in frames]
    return ", ".join(parts) or "-"


@app.command("list")
def list_devices(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Every device the hub knows: paired, revoked, or waiting to pair."""
    with running_hub(data_dir, errors) as client:
        devices = client.call("GET", "/v1/devices")["data"]
    if as_json:
        typer.echo(json.dumps(devices, indent=2))
        return
    table = Table(
        "id", "kind", "model", "status", "connected", "last seen (UTC)", "battery", "rates"
    )
    for device in devices:
        battery = device.get("battery")
        table.add_row(
            device["id"],
            device["kind"],
            device["model"],
            device["status"],
            "yes" if device.get("connected") else "no",
            utc_time(device.get("last_seen")),
            "-" if battery is None else f"{battery}%",
            _rates(device),
        )
    console.print(table)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _allowed(kind: dict[str, Any]) -> str:
    """What one sample's ``v`` may be, e.g. '20 to 250', '6 numbers, each -1,000,000 to ...'."""
    span = f"{_number(kind['low'])} to {_number(kind['high'])}"
    if kind["whole"]:
        span = f"whole, {span}"
    shortest, longest = kind["min_dimensions"], kind["max_dimensions"]
    if longest == 1:
        return span
    count = str(shortest) if shortest == longest else f"{shortest} to {longest}"
    own = [
        f"{part['name']} {_number(part['low'])} to {_number(part['high'])}"
        for part in kind["parts"]
        if (part["low"], part["high"]) != (kind["low"], kind["high"])
    ]
    return "; ".join([f"{count} numbers, each {span}", *own])


@app.command("kinds")
def list_kinds(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """The sensor kinds devices may send: unit, allowed values, and whether the web UI charts it."""
    with running_hub(data_dir, errors) as client:
        kinds = client.call("GET", "/v1/devices/kinds")["data"]
    if as_json:
        typer.echo(json.dumps(kinds, indent=2))
        return
    table = Table("kind", "label", "unit", "allowed", "charted", "description")
    for kind in kinds:
        table.add_row(
            kind["name"],
            kind["label"],
            kind["unit"],
            _allowed(kind),
            "yes" if kind["charted"] else "no",
            kind["description"],
        )
    console.print(table)


@app.command()
def pair(
    device_id: Annotated[str, typer.Argument(help="The device's id (see `hub devices list`).")],
    code: Annotated[str, typer.Option("--code", help="The code the device shows.")],
    data_dir: DataDirOption = None,
) -> None:
    """Approve a device that waits to pair, with the code it shows."""
    with running_hub(data_dir, errors) as client:
        client.call("POST", f"/v1/devices/{device_id}/pair", json={"code": code})
    console.print(f"paired {device_id}")


@app.command()
def revoke(
    device_id: Annotated[str, typer.Argument(help="The device's id.")],
    data_dir: DataDirOption = None,
) -> None:
    """Cut a device off at once; it must be paired again to reconnect."""
    with running_hub(data_dir, errors) as client:
        client.call("POST", f"/v1/devices/{device_id}/revoke")
    console.print(f"revoked {device_id}")
