"""`hub models list|add|pull|add-remote|suggest|use|workers|remove`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.model_workers import set_model_workers
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.disk_space import MB
from hub.errors import HubError
from hub.models.catalog import ModelCatalog, ModelCatalogError, UnknownModelError
from hub.models.gguf_info import NotAGgufFileError
from hub.models.known_models import TABLE_DATE
from hub.models.pull import ModelHubAccess, ModelPuller, PullProgress
from hub.models.pull_spec import parse_pull_source
from hub.models.remote_endpoint import RemoteEndpoint
from hub.models.suggest import decode_bytes_per_second, read_machine_facts, suggest
from hub.settings import load_settings

app = typer.Typer(help="List, add and switch models.", no_args_is_help=True)
app.command("workers")(set_model_workers)


def _fail(console: Console, exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


@app.command("list")
def list_models(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every model with its architecture, size, quantization and context length."""
    console = Console()
    settings = load_settings(data_dir=data_dir)
    catalog = ModelCatalog(settings.data_dir)
    active = settings.model or catalog.active_name()
    with Console(stderr=True).status("Reading model files (first time only)..."):
        rows = catalog.listing()
    if as_json:
        data = [
            {
                "name": row.entry.name,
                "active": row.entry.name == active,
                "source": row.entry.source,
                "path": str(row.path) if row.path else None,
                "remote_url": row.entry.remote.url if row.entry.remote else None,
                "workers": list(row.entry.workers),
                **(row.info.to_dict() if row.info else {}),
                "has_chat_template": row.info.has_chat_template if row.info else None,
                "error": row.error,
            }
            for row in rows
        ]
        for item in data:
            item.pop("chat_template", None)
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title="Models")
    for column in ("", "name", "architecture", "size", "quant", "context", "chat template"):
        table.add_column(column)
    for row in rows:
        marker = "*" if row.entry.name == active else ""
        if row.entry.remote is not None:
            where = f"remote: {row.entry.remote.model} at {row.entry.remote.url}"
            table.add_row(marker, row.entry.name, where, "", "", "", "")
            continue
        if row.info is None:
            table.add_row(marker, row.entry.name, f"[red]{row.error}[/red]", "", "", "", "")
            continue
        table.add_row(
            marker,
            row.entry.name,
            row.info.architecture,
            f"{row.info.file_size / 1e6:.0f} MB",
            row.info.quantization,
            str(row.info.context_length),
            "yes" if row.info.has_chat_template else "no",
        )
    console.print(table)
    for row in rows:
        if row.entry.workers:
            console.print(f"{row.entry.name} runs on the workers {', '.join(row.entry.workers)}")
    console.print("* active model; switch with `hub models use NAME`")


@app.command("add")
def add_model(
    path: Annotated[Path, typer.Argument(help="A .gguf model file.")],
    name: Annotated[str | None, typer.Option(help="Name to use (default: file name).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add your own GGUF model file."""
    console = Console()
    catalog = ModelCatalog(load_settings(data_dir=data_dir).data_dir)
    try:
        entry = catalog.add(path, name)
    except (NotAGgufFileError, ModelCatalogError) as exc:
        raise _fail(console, exc) from exc
    info = catalog.info(entry.name)
    console.print(
        f"Added {entry.name}: {info.architecture}, {info.quantization}, "
        f"context {info.context_length}. Use it with `hub models use {entry.name}`."
    )


class _PullBar:
    """Draws a pull's progress: one bar over every file, relabelled as the stage changes."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def __call__(self, update: PullProgress) -> None:
        label = {"resolving": "Asking the model hub", "adding": "Adding to the catalog"}.get(
            update.stage, f"{update.stage.capitalize()} {update.file}"
        )
        if self.task is None:
            self.task = self.progress.add_task(label, total=update.total_bytes or None)
        self.progress.update(
            self.task,
            description=label,
            completed=update.done_bytes,
            total=update.total_bytes or None,
        )


class _JsonReports:
    """Progress as JSON lines on stdout, at most ten a second (the running hub reads them)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, update: PullProgress) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and update.stage == "downloading":
            return
        self.last = now
        typer.echo(json.dumps(asdict(update)))


def _pull_reporting_json(puller: ModelPuller, source: str, name: str | None) -> None:
    try:
        pulled = puller.pull(parse_pull_source(source), name, _JsonReports())
    except (HubError, NotAGgufFileError) as exc:
        typer.echo(json.dumps({"error": str(exc), "code": exc.error_code}))
        raise typer.Exit(2) from exc
    result = {"model": pulled.entry.name, "total_bytes": pulled.files.total_size}
    typer.echo(json.dumps(result | {"path": str(pulled.path)}))


@app.command("pull")
def pull_model(
    source: Annotated[
        str, typer.Argument(help="OWNER/NAME of a repository, optionally :FILE.gguf or :QUANT.")
    ],
    name: Annotated[str | None, typer.Option(help="Name to use (default: file name).")] = None,
    data_dir: DataDirOption = None,
    progress_json: Annotated[
        bool, typer.Option("--progress-json", hidden=True, help="JSON lines, for the hub.")
    ] = False,
) -> None:
    """Download a GGUF model from a Hugging Face repository, verify it, and add it.

    HF_ENDPOINT points at another hub or mirror; HF_HUB_OFFLINE=1 only uses files already here.
    A stopped pull goes on where it stopped when run again."""
    console = Console()
    settings = load_settings(data_dir=data_dir)
    puller = ModelPuller(
        ModelCatalog(settings.data_dir),
        ModelHubAccess.from_environment(),
        settings.min_free_disk_mb * MB,
    )
    if progress_json:
        _pull_reporting_json(puller, source, name)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            pulled = puller.pull(parse_pull_source(source), name, _PullBar(progress))
    except (HubError, NotAGgufFileError) as exc:
        raise _fail(console, exc) from exc
    total = pulled.files.total_size
    size = f"{total / 1e9:.2f} GB" if total >= 1e9 else f"{total / 1e6:.0f} MB"
    parts = f" in {len(pulled.files.files)} parts" if len(pulled.files.files) > 1 else ""
    fetched = "already here" if pulled.downloaded_bytes == 0 else "downloaded and verified"
    console.print(
        f"Added {pulled.entry.name} ({pulled.repo}, {pulled.files.first.path}, "
        f"{size}{parts}, {fetched}) at {pulled.path}. "
        f"Use it with `hub models use {pulled.entry.name}`."
    )


@app.command("suggest")
def suggest_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Models this box can run well, from a curated table: memory, expected speed, licence."""
    console = Console()
    facts = read_machine_facts()
    rows = suggest(facts)
    rate = decode_bytes_per_second(facts)
    if as_json:
        machine: dict[str, object] = {"memory_bytes": facts.memory_bytes, "cores": facts.cores}
        machine |= {"vector_unit": facts.vector_unit, "decode_bytes_per_s": rate}
        models = [
            asdict(row.model)
            | {"memory_bytes": row.memory_bytes, "tokens_per_s": round(row.tokens_per_s, 1)}
            | {"verdict": row.verdict}
            for row in rows
        ]
        typer.echo(json.dumps({"table_date": TABLE_DATE, "machine": machine, "models": models}))
        return
    console.print(
        f"This box: {facts.memory_bytes / 1e9:.1f} GB memory available, {facts.cores} cores, "
        f"{facts.vector_unit}: decoding reads about {rate / 1e9:.0f} GB of weights a second, "
        "so a model's tokens/s is that divided by its size (rule and assumptions: "
        "hub/models/suggest.py)."
    )
    table = Table(title=f"Instruction-tuned GGUF models (table of {TABLE_DATE})")
    for column in ("verdict", "model", "file", "memory", "~tokens/s", "licence", "quality"):
        table.add_column(column)
    colours = {"runs well": "green", "usable": "yellow"}
    for row in rows:
        colour = colours.get(row.verdict, "red")
        table.add_row(
            f"[{colour}]{row.verdict}[/{colour}]",
            row.model.name,
            f"{row.model.file_bytes / 1e9:.1f} GB",
            f"{row.memory_bytes / 1e9:.1f} GB",
            f"{row.tokens_per_s:.0f}",
            row.model.licence,
            row.model.quality,
        )
    console.print(table)
    for row in rows:
        if row.verdict in colours:
            console.print(f"hub models pull {row.model.pull}", soft_wrap=True)
    console.print(
        "Quality figures are the authors' own (their sources: `hub models suggest --json`); "
        "speeds are estimates for decoding with every core."
    )


def _server_models(url: str, api_key: str | None) -> list[str] | None:
    """The model names an OpenAI-compatible server lists, or None when it does not answer."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        answer = httpx.get(f"{url.rstrip('/')}/models", headers=headers, timeout=5, trust_env=False)
        answer.raise_for_status()
        return [str(item["id"]) for item in answer.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return None


@app.command("add-remote")
def add_remote_model(
    name: Annotated[str, typer.Argument(help="Name to use in the catalog.")],
    url: Annotated[
        str, typer.Argument(help="The server's OpenAI API base, e.g. http://192.168.1.20:8080/v1.")
    ],
    api_key: Annotated[str | None, typer.Option(help="The key that server expects.")] = None,
    model: Annotated[
        str | None, typer.Option(help="The model name the server serves (default: its first).")
    ] = None,
    fallback: Annotated[
        str | None, typer.Option(help="Local model answering while it is down.")
    ] = None,
    context: Annotated[int, typer.Option(help="The server's context length in tokens.")] = 8192,
    data_dir: DataDirOption = None,
) -> None:
    """Add an OpenAI-compatible server on your network (llama-server, Ollama, vLLM) as a model.

    Memory, retrieval and your keys stay here; only the prompt goes to that address."""
    console = Console()
    catalog = ModelCatalog(load_settings(data_dir=data_dir).data_dir)
    listed = _server_models(url, api_key)
    if listed is None:
        console.print(f"[yellow]{url} does not answer now[/yellow]; adding it anyway.")
    chosen = model or (listed[0] if listed else name)
    if listed and chosen not in listed:
        console.print(f"[yellow]{url} does not list {chosen}[/yellow] (it lists {listed}).")
    try:
        entry = catalog.add_remote(
            name, RemoteEndpoint(url, chosen, api_key or None, fallback, context)
        )
    except (ModelCatalogError, UnknownModelError) as exc:
        raise _fail(console, exc) from exc
    assert entry.remote is not None
    console.print(
        f"Added {name}: {chosen} at {entry.remote.url}; while it is down, "
        f"{entry.remote.fallback} answers. Use it with `hub models use {name}`."
    )


@app.command("use")
def use_model(
    name: Annotated[str, typer.Argument(help="Model name from `hub models list`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Make NAME the active model; a running hub switches at once."""
    console = Console()
    settings = load_settings(data_dir=data_dir)
    catalog = ModelCatalog(settings.data_dir)
    try:
        catalog.set_active(name)
    except UnknownModelError as exc:
        raise _fail(console, exc) from exc
    client = HubClient(settings)
    try:
        if answering_hub(client, Console(stderr=True)) is not None:
            with console.status(f"Switching the running hub to {name}..."):
                client.use_model(name)
            console.print(f"The running hub now answers with {name}.")
        else:
            console.print(f"{name} will answer when the hub starts.")
    except HubRequestError as exc:
        raise _fail(console, exc) from exc
    finally:
        client.close()


@app.command("remove")
def remove_model(
    name: Annotated[str, typer.Argument(help="A model you added.")],
    data_dir: DataDirOption = None,
) -> None:
    """Forget a model you added (the file stays where it is)."""
    console = Console()
    catalog = ModelCatalog(load_settings(data_dir=data_dir).data_dir)
    try:
        catalog.remove(name)
    except (UnknownModelError, ModelCatalogError) as exc:
        raise _fail(console, exc) from exc
    console.print(f"Removed {name}.")
