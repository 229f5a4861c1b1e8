"""`hub doctor`: check the install and say how to fix what fails."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.hub_client import HubClient
from hub.cli.options import DataDirOption
from hub.diagnostics import run_checks
from hub.settings import load_settings

STYLES = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def doctor(data_dir: DataDirOption = None) -> None:
    """Check model files, CPU, disk, data directory, clock, the installed service and the port."""
    console = Console()
    settings = load_settings(data_dir=data_dir)
    client = HubClient(settings)
    try:
        with console.status("Checking..."):
            results = run_checks(settings, client.is_running)
    finally:
        client.close()
    table = Table(title="hub doctor")
    for column in ("check", "status", "detail", "how to fix"):
        table.add_column(column)
    for result in results:
        table.add_row(result.name, STYLES[result.status], result.detail, result.fix)
    console.print(table)
    failed = [result for result in results if result.status == "fail"]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed.[/red]")
        raise typer.Exit(1)
    console.print("[green]All good.[/green]")
