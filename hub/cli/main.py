"""`hub`: serve, chat, models, token, doctor."""

from __future__ import annotations

import typer

from hub.cli import backup, chat, devices, doctor, memory, models, personalize, serve, voice
from hub.cli.options import DataDirOption
from hub.datadir import ensure_owner_token
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
app.command(name="serve")(serve.serve)
app.command(name="chat")(chat.chat)
app.command(name="doctor")(doctor.doctor)
app.command(name="backup")(backup.backup)
app.command(name="restore")(backup.restore)


@app.command()
def token(data_dir: DataDirOption = None) -> None:
    """Print the owner's bearer token (made on first use)."""
    settings = load_settings(data_dir=data_dir)
    typer.echo(ensure_owner_token(settings.data_dir))
