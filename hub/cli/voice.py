"""`hub voice status|satellites|approve|revoke|add`: voice and Wyoming satellites, through the
running hub's API."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.options import DataDirOption
from hub.cli.running_hub import running_hub, utc_time

app = typer.Typer(
    help="Voice: what was heard, and Wyoming satellites (the hub listens only to approved ones)."
)
console = Console()
errors = Console(stderr=True)


@app.command("status")
def show_status(data_dir: DataDirOption = None) -> None:
    """Audio heard, utterances, transcripts, requests, replies and frames read since start."""
    with running_hub(data_dir, errors) as client:
        status = client.call("GET", "/v1/voice/status")
    typer.echo(json.dumps(status, indent=2))


@app.command("satellites")
def list_satellites(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Wyoming satellites found on mDNS or added by address, and whether the hub listens."""
    with running_hub(data_dir, errors) as client:
        rows = client.call("GET", "/v1/voice/satellites")["data"]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "address", "status", "connected", "requests", "last seen (UTC)", "error")
    for row in rows:
        table.add_row(
            row["id"],
            f"{row['host']}:{row['port']}",
            row["status"],
            "yes" if row["connected"] else "no",
            str(row["requests"]),
            utc_time(row.get("last_seen")),
            row.get("last_error") or "-",
        )
    console.print(table)
    if any(row["status"] == "discovered" for row in rows):
        console.print("Approve one with: hub voice approve ID")


@app.command("approve")
def approve_satellite(
    satellite_id: Annotated[str, typer.Argument(help="The id from `hub voice satellites`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Let the hub listen to a satellite (it connects at once)."""
    with running_hub(data_dir, errors) as client:
        row = client.call("POST", f"/v1/voice/satellites/{satellite_id}/approve")
    console.print(f"approved {row['id']} at {row['host']}:{row['port']}")


@app.command("revoke")
def revoke_satellite(
    satellite_id: Annotated[str, typer.Argument(help="The id from `hub voice satellites`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Stop listening to a satellite at once."""
    with running_hub(data_dir, errors) as client:
        row = client.call("POST", f"/v1/voice/satellites/{satellite_id}/revoke")
    console.print(f"revoked {row['id']}")


@app.command("add")
def add_satellite(
    address: Annotated[str, typer.Argument(help="HOST:PORT of the satellite.")],
    name: Annotated[str | None, typer.Option(help="A name to show.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add (and approve) a satellite by address, for networks without mDNS."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        errors.print("[red]error:[/red] give the address as HOST:PORT, e.g. 192.168.1.20:10700")
        raise typer.Exit(2)
    with running_hub(data_dir, errors) as client:
        row = client.call(
            "POST", "/v1/voice/satellites", json={"host": host, "port": int(port), "name": name}
        )
    console.print(f"added and approved {row['id']}")
