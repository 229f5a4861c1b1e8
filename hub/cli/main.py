"""`hub`: serve, worker, chat, models, token, clients, setup-link, doctor, mcp."""

from __future__ import annotations

import typer

from hub.cli import (
    backup,
    bridges,
    chat,
    clients,
    devices,
    doctor,
    housekeeping,
    imports,
    mcp,
    memory,
    models,
    owner_access,
    personalize,
    serve,
    voice,
    worker,
)

app = typer.Typer(
    name="hub",
    help="Walking NAS: your own assistant hub, running on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(memory.app, name="memory")
memory.app.add_typer(housekeeping.app, name="housekeeping")
app.add_typer(devices.app, name="devices")
app.add_typer(personalize.app, name="personalize")
app.add_typer(voice.app, name="voice")
app.add_typer(owner_access.app, name="token")
app.add_typer(clients.app, name="clients")
app.add_typer(bridges.app, name="bridges")
app.command(name="serve")(serve.serve)
app.command(name="worker")(worker.worker)
app.command(name="chat")(chat.chat)
app.command(name="doctor")(doctor.doctor)
app.command(name="mcp")(mcp.mcp)
app.command(name="import")(imports.import_file)
app.command(name="backup")(backup.backup)
app.command(name="restore")(backup.restore)
app.command(name="setup-link")(owner_access.setup_link)
