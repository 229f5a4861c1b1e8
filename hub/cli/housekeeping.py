"""`hub memory housekeeping status|set|run|undo`: old transcripts summarized or deleted, by the
running hub's API when one answers, else straight on the data directory's memory database."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.api.housekeeping_schemas import HousekeepingIn, HousekeepingOut
from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.errors import HubError
from hub.housekeeping.service import HousekeepingService
from hub.settings import HOUSEKEEPING_POLICY, load_settings
from memory.errors import MemoryStoreError
from memory.housekeeping_types import Policy

app = typer.Typer(help="Old transcripts kept raw, summarized or deleted after N days; undo.")
console = Console()
errors = Console(stderr=True)
POLL_SECONDS = 0.5

# The running hub's API, or (no hub running) a service of this command's own.
Target = tuple[HubClient | None, HousekeepingService | None]


@contextmanager
def _service(data_dir: Path | None) -> Iterator[Target]:
    settings = load_settings(data_dir=data_dir)
    client = HubClient(settings)
    store = None
    try:
        hub = answering_hub(client, errors)
        if hub is not None:
            yield hub, None
            return
        from memory.embedder import SentenceTransformerEmbedder
        from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore

        with errors.status("No hub is running: loading the embedding model..."):
            embedder = SentenceTransformerEmbedder(settings.memory_embedding_model)
            store = SqliteMemoryStore(settings.data_dir / MEMORY_DB_NAME, embedder)
        # Without the hub's model the summaries list what was said and when.
        yield None, HousekeepingService(store.housekeeping, settings, None)
    except (HubRequestError, MemoryStoreError, HubError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if store is not None:
            store.close()
        client.close()


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


def _show(status: dict[str, Any], index: dict[str, Any] | None) -> None:
    policies = Table("kind", "policy", "from", title="Policy")
    for policy in status["policies"]:
        action = policy["action"]
        what = action if action == "keep" else f"{action} after {policy['after_days']} days"
        policies.add_row(policy["kind"], what, policy["origin"])
    console.print(policies)
    console.print(
        f"Raw items replaced stay recoverable for {status['grace_days']} days "
        f"({status['grace_origin']}); the daily run is at {status['daily_at']}."
    )
    sizes = Table("kind", "items", "size", "held for undo", title="Sizes")
    for size in status["sizes"]:
        held = f"{size['held_items']} ({_size(size['held_bytes'])})" if size["held_items"] else "-"
        sizes.add_row(size["kind"], str(size["items"]), _size(size["bytes"]), held)
    console.print(sizes)
    if index is not None:
        mode = index["mode"]
        line = f"Search by meaning: {mode}, {index['searchable']} of {index['total']} vectors"
        if mode == "building":
            line += f" (rebuilding: {index['built']} indexed)"
        console.print(line)
    # Runs as lines, not a table: a narrow terminal must not cut the id undo needs.
    console.print("Runs:" if status["runs"] else "No housekeeping run yet.")
    for run in status["runs"]:
        state = run["error"] or ("" if run["finished_at"] else "running")
        undoable = f"undo brings back {run['undoable_days']} days" if run["undoable_days"] else ""
        console.print(
            f"{run['id']}  {run['started_at'][:16].replace('T', ' ')} ({run['trigger']}): "
            f"{run['days']} days, {run['items']} items, {run['summaries']} summaries, "
            f"{run['purged']} purged. {state or undoable}",
            soft_wrap=True,
        )


@app.command()
def status(data_dir: DataDirOption = None) -> None:
    """The policy per kind, sizes per kind, search's index and the latest runs."""
    with _service(data_dir) as (client, service):
        if client is not None:
            shown = client.call("GET", "/v1/memory/housekeeping")
            index = client.call("GET", "/v1/memory/status")["index"]
        else:
            assert service is not None
            shown = HousekeepingOut.from_domain(service.status()).model_dump()
            index = None
    _show(shown, index)


@app.command(name="set")
def set_policy(
    kind: Annotated[str | None, typer.Argument(help="transcript or image_text.")] = None,
    policy: Annotated[
        str | None, typer.Argument(help="keep, summarize:DAYS or delete:DAYS.")
    ] = None,
    grace_days: Annotated[
        int | None, typer.Option(help="Days replaced raw items stay recoverable.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Choose what happens to old items of a kind (wins over hub.toml from now on)."""
    policies: list[dict[str, Any]] = []
    if kind is not None:
        if policy is None or not re.match(HOUSEKEEPING_POLICY, policy):
            errors.print("[red]error:[/red] give the policy as keep, summarize:DAYS or delete:DAYS")
            raise typer.Exit(2)
        action, _, days = policy.partition(":")
        policies.append({"kind": kind, "action": action, "after_days": int(days or 30)})
    body = {"policies": policies, "grace_days": grace_days}
    try:
        checked = HousekeepingIn.model_validate(body)
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with _service(data_dir) as (client, service):
        if client is not None:
            shown = client.call("PUT", "/v1/memory/housekeeping", json=body)
        else:
            assert service is not None
            saved = [Policy(p.kind, p.action, p.after_days) for p in checked.policies]
            shown = HousekeepingOut.from_domain(service.save(saved, grace_days)).model_dump()
    _show(shown, None)


def _wait_for(client: HubClient, run_id: str) -> dict[str, Any]:
    while True:
        shown = client.call("GET", "/v1/memory/housekeeping")
        run: dict[str, Any] = next(run for run in shown["runs"] if run["id"] == run_id)
        if run["finished_at"] is not None:
            return run
        time.sleep(POLL_SECONDS)


@app.command()
def run(data_dir: DataDirOption = None) -> None:
    """Run housekeeping now and say what it did."""
    with _service(data_dir) as (client, service):
        if client is not None:
            run_id = client.call("POST", "/v1/memory/housekeeping/runs")["id"]
            with errors.status(f"Housekeeping run {run_id}..."):
                done = _wait_for(client, run_id)
        else:
            assert service is not None
            run_id = asyncio.run(service.run_now("cli"))
            done = HousekeepingOut.from_domain(service.status()).model_dump()["runs"][0]
    if done["error"]:
        errors.print(f"[red]error:[/red] {done['error']}")
    console.print(
        f"{run_id}: {done['days']} days compacted ({done['items']} raw items out of search, "
        f"{done['summaries']} summaries), {done['purged']} items past their grace period "
        f"deleted. Undo: hub memory housekeeping undo {run_id}"
    )
    if done["error"]:
        raise typer.Exit(1)


@app.command()
def undo(
    run_id: Annotated[str, typer.Argument(help="The run's id (see status).")],
    data_dir: DataDirOption = None,
) -> None:
    """Bring back the raw items a run replaced and remove its summaries."""
    with _service(data_dir) as (client, service):
        if client is not None:
            days = client.call("POST", f"/v1/memory/housekeeping/runs/{run_id}/undo")["days"]
        else:
            assert service is not None
            days = service.undo(run_id)
    console.print(f"{run_id}: {days} days brought back.")
