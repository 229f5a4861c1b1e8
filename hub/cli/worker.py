"""`hub worker`: lend this machine's CPU to a hub whose model outgrew its own box."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.rpc.ggml_rpc import RpcLibrary, RpcUnavailableError
from hub.rpc.worker_address import DEFAULT_WORKER_PORT, WorkerAddressError, parse_worker_address


def worker(
    listen: Annotated[
        str,
        typer.Option(
            help=f"This machine's address on your home network, such as "
            f"192.168.1.30:{DEFAULT_WORKER_PORT} (127.0.0.1 to try it on one machine).",
        ),
    ],
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="CPU threads for the layers it holds (default: all)."),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the model's large tensors here, so a restart sends less."),
    ] = None,
) -> None:
    """Hold part of a model's layers for a hub (llama.cpp RPC); runs until stopped."""
    console = Console()
    try:
        address = parse_worker_address(listen)
        library = RpcLibrary()
        library.check()
    except (WorkerAddressError, RpcUnavailableError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    count = threads or os.cpu_count() or 1
    console.print(
        f"Worker listening at {address} with {count} threads. List it on the hub with "
        f"`hub models workers MODEL {address}`.\n"
        "[yellow]The RPC protocol has no password or encryption:[/yellow] anyone who can reach "
        "this address can use this machine's memory and CPU. Keep it on a network you trust."
    )
    # ggml's server loop is C code that never returns to Python: Ctrl-C must end the process
    # itself rather than wait for a Python handler that would never run.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    library.serve(address, count, cache_dir)
    console.print(
        f"[red]error:[/red] could not listen at {address}: is it an address of this machine "
        "(see `ip -4 addr`), and is the port free?"
    )
    raise typer.Exit(1)
