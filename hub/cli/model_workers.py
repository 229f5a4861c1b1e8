"""`hub models workers`: the RPC workers that hold a model's layers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from hub.cli.options import DataDirOption
from hub.models.catalog import ModelCatalog, ModelCatalogError, UnknownModelError
from hub.rpc.ggml_rpc import WorkerUnreachableError, probe_worker
from hub.rpc.worker_address import WorkerAddressError, parse_worker_addresses
from hub.settings import load_settings


def set_model_workers(
    name: Annotated[str, typer.Argument(help="Model name from `hub models list`.")],
    addresses: Annotated[
        list[str] | None,
        typer.Argument(help="Workers as IPv4:port, each running `hub worker`."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Serve the model here alone.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Split NAME's layers across these workers (no address: show the current ones)."""
    console = Console()
    catalog = ModelCatalog(load_settings(data_dir=data_dir).data_dir)
    try:
        if not addresses and not clear:
            workers = catalog.get(name).workers
            console.print(
                f"{name} runs on: {', '.join(workers)}" if workers else f"{name} runs here alone."
            )
            return
        if addresses and clear:
            raise WorkerAddressError("give addresses or --clear, not both")
        parsed = parse_worker_addresses(addresses or [])
        entry = catalog.set_workers(name, parsed)
    except (UnknownModelError, ModelCatalogError, WorkerAddressError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for address in entry.workers:
        try:
            probe_worker(address)
        except WorkerUnreachableError as exc:
            console.print(f"[yellow]warning:[/yellow] {exc}")
    where = ", ".join(entry.workers) if entry.workers else "this machine alone"
    console.print(
        f"{name} will run on {where} from its next load (restart the hub if it is serving it)."
    )
