"""`hub serve`: run the hub, holding its data directory and recording where it listens."""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape

from devices.link_crypto import MAX_LINK_FRAME
from hub.cli.options import DataDirOption
from hub.cli.request_deadline import DeadlineH11Protocol
from hub.datadir import DataDirInUseError, lock_data_dir
from hub.models.catalog import UnknownModelError
from hub.running_address import (
    RunningAddress,
    read_running_address,
    remove_running_address,
    write_running_address,
)
from hub.settings import Settings, load_settings
from hub.web.setup_link import SetupLinkFile
from hub.web.sign_in import SETUP_QUERY_PARAMETER

if TYPE_CHECKING:
    from fastapi import FastAPI

STARTUP_FAILURE = 3  # uvicorn's exit status when the app fails to start

# The largest WebSocket message the hub reads: the device protocol's largest frame (a media
# frame) plus room for its header and the link's encryption; uvicorn closes bigger ones (1009)
# before buffering them, instead of its default 16 MiB.
WS_MAX_MESSAGE_BYTES = MAX_LINK_FRAME
# A request line and headers larger than this are refused (400). Only uvicorn's h11 parser
# has such a bound: with httptools (its pick when installed) one connection made a test server
# buffer 96 MB of headers; h11 refused at this size, and served /health as fast (1,315
# against 1,246 requests a second, one client on loopback).
MAX_REQUEST_HEAD_BYTES = 64 * 1024
# Seconds an idle keep-alive connection is held open (uvicorn's default, said here on purpose).
KEEP_ALIVE_SECONDS = 5


def server_config(
    application: FastAPI, settings: Settings, port: int, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn's settings for the hub: bounded messages, connections and idle time; proxy
    headers believed only from the proxies ``trusted_proxies`` names."""
    trusted = [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]
    return uvicorn.Config(
        application,
        host=settings.host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        # h11, with a deadline for each request head (hub/cli/request_deadline.py).
        http=DeadlineH11Protocol,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=settings.max_connections or None,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local process could
        # then pose as any client (and rotate past the sign-in back-off).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


class RecordedServer(uvicorn.Server):
    """uvicorn's server, removing the hub's address file as soon as it starts to stop."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self._settings = settings

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop serving; the file goes first, as closing the hub may take seconds.

        It cannot wait for `serve` to return: after SIGTERM uvicorn re-raises the signal,
        which ends the process at once.
        """
        remove_running_address(self._settings.data_dir)
        SetupLinkFile(self._settings.data_dir).remove()  # its token ends with this process
        await super().shutdown(sockets)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one), for uvicorn to listen on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def setup_link(host: str, port: int, setup_token: str) -> str:
    """The one-time setup link (127.0.0.1 when the hub listens on every address)."""
    wildcard = host in ("0.0.0.0", "::", "")
    shown = "127.0.0.1" if wildcard else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/?{SETUP_QUERY_PARAMETER}={setup_token}"


def setup_link_message(host: str, port: int, setup_token: str, on_terminal: bool = True) -> str:
    """What `hub serve` says while no web passphrase is set: the one-time setup link on a
    terminal; elsewhere (a log, journald) only where to find it, never the link itself."""
    wildcard = host in ("0.0.0.0", "::", "")
    if not on_terminal:
        return (
            "Web UI: no passphrase yet. Choose one in a browser on this machine, or from another "
            "device with the one-time setup link that `hub setup-link` prints (it is not logged)"
        )
    link = setup_link(host, port, setup_token)
    hint = "; from a phone, use this machine's address instead of 127.0.0.1" if wildcard else ""
    return f"Web UI: no passphrase yet. Open this one-time link to choose one{hint}:\n  {link}"


def in_use_message(settings: Settings) -> str:
    """Why a second hub on the same data directory does not start, naming the first."""
    first = read_running_address(settings.data_dir)
    where = (
        f"pid {first.pid}, on {first.url} since {first.started_at}"
        if first is not None
        else "it is still starting"
    )
    return (
        f"another hub already serves {settings.data_dir} ({where}): stop it first, "
        "or give this one its own --data-dir"
    )


def _run(settings: Settings, log_level: str, console: Console) -> None:
    from devices.perception.speech import SpeechError
    from devices.perception.speech_to_text import SpeechModelError
    from hub.api.app import create_app
    from hub.assembly import UnsafeListenError
    from hub.engine.cpu_placement import CpuPlacementError, pin_this_process

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
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        console.print(
            f"[red]error:[/red] cannot listen on {settings.host}:{settings.port}: "
            f"{exc.strerror}; stop what uses it, or start with `hub serve --port N`"
        )
        raise typer.Exit(2) from exc
    bound_host, port = sock.getsockname()[:2]  # the real port when --port 0 asked for any
    placement = application.state.hub.placement
    if placement.split:  # the model's child moves itself to its own CPUs when it starts
        pin_this_process(placement.hub)
    console.print(
        f"Walking NAS hub on http://{settings.host}:{port}  "
        f"(data: {settings.data_dir}; token: run `hub token`)"
    )
    console.print(f"CPUs: {placement.describe()}", markup=False)
    setup_token = application.state.hub.web.sign_in.setup_token
    if setup_token:
        SetupLinkFile(settings.data_dir).write(setup_link(settings.host, port, setup_token))
        message = setup_link_message(settings.host, port, setup_token, sys.stderr.isatty())
        console.print(message, markup=False, soft_wrap=True)
    server = RecordedServer(server_config(application, settings, port, log_level), settings)
    # Written before the model loads, so a second `hub serve` can name this one meanwhile.
    write_running_address(settings.data_dir, RunningAddress.of_this_process(bound_host, port))
    try:
        server.run(sockets=[sock])
    finally:
        remove_running_address(settings.data_dir)
        SetupLinkFile(settings.data_dir).remove()
        sock.close()
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free one).")] = None,
    data_dir: DataDirOption = None,
    model: Annotated[str | None, typer.Option(help="Model to start with.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the hub: the API, on 127.0.0.1 unless told otherwise."""
    console = Console(stderr=True)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings(host=host, port=port, data_dir=data_dir, model=model)
    try:
        # Held until this process ends; the kernel lets it go after a crash too.
        lock = lock_data_dir(settings.data_dir)
    except DataDirInUseError as exc:
        console.print(f"[red]error:[/red] {escape(in_use_message(settings))}")
        raise typer.Exit(2) from exc
    try:
        _run(settings, log_level, console)
    finally:
        os.close(lock)
