"""`hub memory add|search|forget|export|import`: through the running hub's API when one answers,
else straight on the memory database in the data directory (loading the embedder here)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.settings import Settings, load_settings
from memory.errors import MemoryStoreError
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory, SearchFilters

app = typer.Typer(help="What the hub remembers: add, search, forget, export, import.")
console = Console()
errors = Console(stderr=True)
IMPORT_BATCH_LINES = 200


@contextmanager
def _store(settings: Settings) -> Iterator[SqliteMemoryStore]:
    from memory.embedder import SentenceTransformerEmbedder
    from memory.sqlite_store import MEMORY_DB_NAME

    with errors.status("No hub is running: loading the embedding model..."):
        embedder = SentenceTransformerEmbedder(settings.memory_embedding_model)
        store = SqliteMemoryStore(settings.data_dir / MEMORY_DB_NAME, embedder)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _connection(data_dir: Path | None) -> Iterator[tuple[Settings, HubClient | None]]:
    settings = load_settings(data_dir=data_dir)
    client = HubClient(settings)
    try:
        yield settings, answering_hub(client, errors)
    except (HubRequestError, MemoryStoreError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    kind: Annotated[str, typer.Option(help="note, fact, message, document, ...")] = "note",
    happened_at: Annotated[str | None, typer.Option(help="ISO 8601 time it happened.")] = None,
    pin: Annotated[bool, typer.Option(help="Pin it.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Remember something."""
    with _connection(data_dir) as (settings, client):
        body: dict[str, Any] = {"text": text, "kind": kind, "pinned": pin}
        if happened_at:
            body["happened_at"] = happened_at
        if client is not None:
            memory_id = client.call("POST", "/v1/memory", json=body)["id"]
        else:
            with _store(settings) as store:
                memory_id = store.add(NewMemory(**body)).id
    console.print(memory_id)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='What to look for; "yesterday" etc. narrow it.')],
    k: Annotated[int, typer.Option("--k", help="How many results.")] = 10,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Search memories (hybrid: meaning and words)."""
    with _connection(data_dir) as (settings, client):
        if client is not None:
            body = {"query": query, "k": k, "kinds": kind or None}
            results = client.call("POST", "/v1/memory/search", json=body)["results"]
        else:
            with _store(settings) as store:
                hits = store.search(query, k, SearchFilters(kinds=tuple(kind or ())))
                results = [
                    {**hit.item.to_dict(), "score": hit.score, "snippet": hit.snippet}
                    for hit in hits
                ]
    table = Table("id", "when", "kind", "score", "text")
    for result in results:
        table.add_row(
            result["id"],
            result["happened_at"][:16].replace("T", " "),
            result["kind"],
            f"{result['score']:.4f}",
            result["snippet"],
        )
    console.print(table if results else "[dim]nothing found[/dim]")


@app.command()
def forget(
    memory_id: Annotated[str, typer.Argument(help="The id, as `hub memory search` shows it.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Forget one memory (and facts derived from it) for good, after asking."""
    with _connection(data_dir) as (settings, client):
        if client is not None:
            text = client.call("GET", f"/v1/memory/{memory_id}")["text"]
        else:
            with _store(settings) as store:
                text = store.get(memory_id).text
        if not yes and not typer.confirm(f'Forget "{text[:200]}"?'):
            raise typer.Exit(1)
        if client is not None:
            removed = client.call("DELETE", f"/v1/memory/{memory_id}")["removed"]
        else:
            with _store(settings) as store:
                removed = store.forget(memory_id)
    console.print(f"forgot {', '.join(removed)}")


@app.command(name="export")
def export_memories(
    path: Annotated[Path, typer.Argument(help="File to write, or - for standard output.")],
    data_dir: DataDirOption = None,
) -> None:
    """Write every memory, with its history, as JSON lines."""
    with _connection(data_dir) as (settings, client):
        if client is not None:
            text = client.call_text("GET", "/v1/memory/export")
        else:
            out = io.StringIO()
            with _store(settings) as store:
                store.export_jsonl(out)
            text = out.getvalue()
    if str(path) == "-":
        sys.stdout.write(text)
        return
    path.write_text(text, encoding="utf-8")
    errors.print(f"exported {max(0, text.count(chr(10)) - 1)} memories to {path}")


@app.command(name="import")
def import_memories(
    path: Annotated[Path, typer.Argument(help="A file made by `hub memory export`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Read memories back from an export; ids already present are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = (lines[0], lines[1:]) if lines else ("", [])
    added = skipped = 0
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn())
    with _connection(data_dir) as (settings, client), Progress(*columns, console=errors) as bar:
        task = bar.add_task("import", total=len(body))
        if client is not None:
            for start in range(0, len(body), IMPORT_BATCH_LINES):
                part = [header, *body[start : start + IMPORT_BATCH_LINES]]
                report = client.call(
                    "POST",
                    "/v1/memory/import",
                    content="".join(part).encode(),
                    headers={"Content-Type": "application/x-ndjson"},
                )
                added, skipped = added + report["added"], skipped + report["skipped"]
                bar.update(task, completed=min(start + IMPORT_BATCH_LINES, len(body)))
        else:
            with _store(settings) as store:
                result = store.import_jsonl(
                    io.StringIO("".join(lines)),
                    progress=lambda done, _: bar.update(task, completed=done),
                )
            added, skipped = result.added, result.skipped
            bar.update(task, completed=len(body))
    console.print(json.dumps({"added": added, "skipped": skipped}))
