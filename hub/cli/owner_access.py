"""`hub token`, `hub token rotate` and `hub setup-link`: the owner's ways into the hub."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.datadir import ensure_owner_token, write_new_owner_token
from hub.running_address import WILDCARD_HOSTS, read_running_address
from hub.settings import load_settings
from hub.web.passphrase import PassphraseFile
from hub.web.setup_link import SetupLinkFile

app = typer.Typer(help="The owner's bearer token, for programs.")


@app.callback(invoke_without_command=True)
def token(ctx: typer.Context, data_dir: DataDirOption = None) -> None:
    """Print the owner's bearer token (made on first use)."""
    if ctx.invoked_subcommand is None:
        settings = load_settings(data_dir=data_dir)
        typer.echo(ensure_owner_token(settings.data_dir))


@app.command()
def rotate(data_dir: DataDirOption = None) -> None:
    """Make a new token and print it: the running hub refuses the old one at once."""
    errors = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    client = HubClient(settings, timeout=30)
    try:
        hub = answering_hub(client, errors)
        if hub is None:  # no hub runs: it reads the new token when it starts
            new_token = write_new_owner_token(settings.data_dir)
        else:  # the hub stores it and switches to it, in one step
            new_token = hub.call("POST", "/v1/token/rotate")["token"]
    except HubRequestError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    typer.echo(new_token)
    errors.print("The old token no longer works: give programs the new one.")


def setup_link(data_dir: DataDirOption = None) -> None:
    """Print the one-time link to choose the web passphrase from another device."""
    errors = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    link = SetupLinkFile(settings.data_dir).read()
    running = read_running_address(settings.data_dir)
    if link is None or running is None or not running.is_alive():
        if PassphraseFile(settings.data_dir).is_set():
            why = "a web passphrase is already set: sign in with it"
        else:
            why = "no hub is waiting for a first passphrase here: start it with `hub serve`"
        errors.print(f"[red]error:[/red] {escape(why)} (data: {escape(str(settings.data_dir))})")
        raise typer.Exit(1)
    typer.echo(link)
    if running.host in WILDCARD_HOSTS:
        errors.print("From a phone, use this machine's address instead of 127.0.0.1.")
