"""`hub devices list|pair|revoke`: wearables, through the running hub's API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.settings import load_settings

app = typer.Typer(help="Wearables: list, pair (with the code a device shows), revoke.")
console = Console()
errors = Console(stderr=True)


@contextmanager
def _hub(data_dir: Any) -> Iterator[HubClient]:
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


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


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
    with _hub(data_dir) as client:
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
            _when(device.get("last_seen")),
            "-" if battery is None else f"{battery}%",
            _rates(device),
        )
    console.print(table)


@app.command()
def pair(
    device_id: Annotated[str, typer.Argument(help="The device's id (see `hub devices list`).")],
    code: Annotated[str, typer.Option("--code", help="The code the device shows.")],
    data_dir: DataDirOption = None,
) -> None:
    """Approve a device that waits to pair, with the code it shows."""
    with _hub(data_dir) as client:
        client.call("POST", f"/v1/devices/{device_id}/pair", json={"code": code})
    console.print(f"paired {device_id}")


@app.command()
def revoke(
    device_id: Annotated[str, typer.Argument(help="The device's id.")],
    data_dir: DataDirOption = None,
) -> None:
    """Cut a device off at once; it must be paired again to reconnect."""
    with _hub(data_dir) as client:
        client.call("POST", f"/v1/devices/{device_id}/revoke")
    console.print(f"revoked {device_id}")
