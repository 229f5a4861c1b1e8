"""`hub`: serve, chat, models, token, doctor."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from hub.cli import backup, chat, devices, doctor, memory, models, personalize, voice
from hub.cli.options import DataDirOption
from hub.datadir import ensure_owner_token
from hub.models.catalog import UnknownModelError
from hub.settings import load_settings

app = typer.Typer(
    name="hub",
    help="Walking NAS: your own assistant hub, running on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(memory.app, name="memory")
app.add_typer(devices.app, name="devices")
app.add_typer(personalize.app, name="personalize")
app.add_typer(voice.app, name="voice")
app.command(name="chat")(chat.chat)
app.command(name="doctor")(doctor.doctor)
app.command(name="backup")(backup.backup)
app.command(name="restore")(backup.restore)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDirOption = None,
    model: Annotated[str | None, typer.Option(help="Model to start with.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the hub: the API, on 127.0.0.1 unless told otherwise."""
    from devices.perception.speech import SpeechError
    from devices.perception.speech_to_text import SpeechModelError
    from hub.api.app import create_app
    from hub.assembly import UnsafeListenError
    from hub.engine.cpu_placement import CpuPlacementError, pin_this_process

    console = Console(stderr=True)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings(host=host, port=port, data_dir=data_dir, model=model)
    try:
        application = create_app(settings)
    except (
        UnsafeListenError,
        UnknownModelError,
        SpeechError,
        SpeechModelError,
        CpuPlacementError,
    ) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    placement = application.state.hub.placement
    if placement.split:  # the model's child moves itself to its own CPUs when it starts
        pin_this_process(placement.hub)
    console.print(
        f"Walking NAS hub on http://{settings.host}:{settings.port}  "
        f"(data: {settings.data_dir}; token: run `hub token`)"
    )
    console.print(f"CPUs: {placement.describe()}", markup=False)
    setup_token = application.state.hub.web.sign_in.setup_token
    if setup_token:
        console.print(
            setup_link_message(settings.host, settings.port, setup_token),
            markup=False,
            soft_wrap=True,
        )
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )


def setup_link_message(host: str, port: int, setup_token: str) -> str:
    """What `hub serve` prints while no web passphrase is set: the one-time setup link."""
    wildcard = host in ("0.0.0.0", "::", "")
    shown = "127.0.0.1" if wildcard else (f"[{host}]" if ":" in host else host)
    link = f"http://{shown}:{port}/?setup={setup_token}"
    hint = "; from a phone, use this machine's address instead of 127.0.0.1" if wildcard else ""
    return f"Web UI: no passphrase yet. Open this one-time link to choose one{hint}:\n  {link}"


@app.command()
def token(data_dir: DataDirOption = None) -> None:
    """Print the owner's bearer token (made on first use)."""
    settings = load_settings(data_dir=data_dir)
    typer.echo(ensure_owner_token(settings.data_dir))
