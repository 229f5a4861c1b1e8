"""`hub doctor`: check the install and say how to fix what fails."""

from __future__ import annotations

import httpx
import typer
from rich.console import Console
from rich.table import Table

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.hub_location import HubLocation, configured_location, locate_hub
from hub.cli.options import DataDirOption
from hub.diagnostics import CheckResult, run_checks
from hub.running_address import WILDCARD_HOSTS
from hub.settings import load_settings

STYLES = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def check_running_hub(location: HubLocation, answers: bool) -> CheckResult:
    """Where the running hub listens, as it recorded in the data directory."""
    name = "running hub"
    record = location.record
    if record is None:
        if answers:
            return CheckResult(name, "ok", f"answering at {location.url} (it recorded no address)")
        return CheckResult(name, "ok", f"none ({location.record_path} does not exist)")
    if location.stale:
        return CheckResult(
            name, "warn", location.stale_note(), "start it with `hub serve` (it replaces the file)"
        )
    where = f"pid {record.pid} on {record.url}"
    if record.host in WILDCARD_HOSTS:
        where += f" (listening on {record.host}:{record.port})"
    where += f" since {record.started_at}"
    if not answers:
        return CheckResult(
            name,
            "warn",
            f"{where}, but it does not answer",
            "wait for it to finish starting, or see its log and restart it",
        )
    return CheckResult(name, "ok", where)


def check_served_model(running: HubClient) -> CheckResult:
    """Which model the running hub serves, and why not the chosen one when it fell back."""
    name = "served model"
    try:
        active = running.call("GET", "/v1/models/active")
    except (HubRequestError, httpx.HTTPError, ValueError) as exc:
        return CheckResult(name, "warn", f"the running hub did not say ({exc})", "see its log")
    fix = "fix or replace the model's file (`hub models list` shows why), or `hub models use NAME`"
    if active.get("status") == "fallback":
        detail = f"{active['model']} answers instead of {active['chosen']}: {active['reason']}"
        return CheckResult(name, "warn", detail, fix)
    if active.get("status") == "unavailable":
        detail = f"no model answers (chat gets 503): {active['reason']}"
        return CheckResult(name, "fail", detail, fix)
    return CheckResult(name, "ok", f"{active.get('model')} ({active.get('status')})")


def doctor(data_dir: DataDirOption = None) -> None:
    """Check model files, CPU, disk, data directory, clock, the installed service and the port."""
    console = Console()
    settings = load_settings(data_dir=data_dir)
    # The port check is about the settings' port; the running hub may listen on another one.
    configured = HubClient(settings, location=configured_location(settings))
    running = HubClient(settings, location=locate_hub(settings))
    try:
        with console.status("Checking..."):
            results = run_checks(settings, configured.is_running)
            answers = running.is_running()
            results.append(check_running_hub(running.location, answers))
            if answers:
                results.append(check_served_model(running))
    finally:
        configured.close()
        running.close()
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
