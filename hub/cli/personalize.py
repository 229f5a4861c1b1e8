"""`hub personalize run|status|list|rollback|dataset`: through the running hub when one answers,
else on the data directory directly (training then runs in a child of this command)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from adapters.job import read_progress
from adapters.registry import RegistryError
from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.conversations.migrations import MIGRATIONS
from hub.conversations.store import CONVERSATIONS_DB_NAME
from hub.models.catalog import ModelCatalog, RemoteModelError
from hub.personalization.jobs import (
    CHILD_LOG_FILE,
    base_sha256,
    build_current_dataset,
    child_command,
    child_environment,
    finish_run,
    plan_run,
    registry_for,
)
from hub.settings import Settings, load_settings
from memory.sqlite_database import LockedDatabase, open_database

app = typer.Typer(help="Nightly personalization: train, inspect and roll back LoRA adapters.")
console = Console()
errors = Console(stderr=True)
POLL_SECONDS = 1.0


@contextmanager
def _connection(data_dir: Any) -> Iterator[tuple[Settings, HubClient | None]]:
    settings = load_settings(data_dir=data_dir)
    client = HubClient(settings)
    try:
        yield settings, answering_hub(client, errors)
    except (HubRequestError, RegistryError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


@contextmanager
def _conversations(settings: Settings) -> Iterator[LockedDatabase]:
    database = open_database(settings.data_dir / CONVERSATIONS_DB_NAME, MIGRATIONS)
    try:
        yield database
    finally:
        database.close()


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=errors,
    )


def _show_running(progress: Progress, task: Any, running: dict[str, Any]) -> None:
    eta = running.get("eta_seconds")
    losses = running.get("losses") or []
    phase = str(running.get("phase", "starting"))
    if running.get("questions"):
        phase += f" {running.get('answered', 0)}/{running['questions']}"
    progress.update(
        task,
        description=phase,
        completed=running.get("step") or 0,
        total=running.get("total_steps") or None,
        loss=f"{losses[-1]:.3f}" if losses else "-",
        eta=f"{int(eta) // 60}m{int(eta) % 60:02d}s" if eta is not None else "-",
    )


def _watch(poll: Callable[[], dict[str, Any] | None]) -> None:
    with _progress_bar() as progress:
        task = progress.add_task("starting", total=None, loss="-", eta="-")
        while (running := poll()) is not None:
            _show_running(progress, task, running)
            time.sleep(POLL_SECONDS)


def _running_from_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    steps = [e for e in events if e.get("event") == "step"]
    last = steps[-1] if steps else {}
    newest = events[-1] if events else {}
    return {
        "phase": newest.get("event", "starting"),
        "answered": newest.get("answered"),
        "questions": newest.get("questions"),
        "step": last.get("step", 0),
        "total_steps": last.get("total_steps"),
        "eta_seconds": last.get("eta_seconds"),
        "losses": [e["loss"] for e in steps],
    }


def _run_locally(settings: Settings, force: bool) -> str:
    catalog = ModelCatalog(settings.data_dir)
    model_name = settings.model or catalog.active_name()
    try:
        base = catalog.path_for(model_name)
    except RemoteModelError as exc:
        return f"refused: {exc}"
    with errors.status("Collecting and curating your data..."), _conversations(settings) as db:
        plan = plan_run(settings, db, model_name, base, force)
    if plan.skipped or plan.job_dir is None:
        return f"skipped: {plan.skipped}"
    job_dir = plan.job_dir
    with (job_dir / CHILD_LOG_FILE).open("ab") as log:
        child = subprocess.Popen(
            child_command(job_dir),
            stdout=log,
            stderr=log,
            env=child_environment(settings.personalize_threads),
        )
        try:
            _watch(
                lambda: (
                    _running_from_events(read_progress(job_dir)) if child.poll() is None else None
                )
            )
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            return "stopped; `hub personalize run` resumes from the last checkpoint"
    outcome = finish_run(settings, plan, child.returncode)
    return f"{outcome.status}: {outcome.message}"


@app.command()
def run(
    force: Annotated[bool, typer.Option(help="Run even with little new data.")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for the run and show its progress.")] = True,
    data_dir: DataDirOption = None,
) -> None:
    """Train a new adapter on your data now; it is served only if it passes the gate."""
    with _connection(data_dir) as (settings, client):
        if client is None:
            console.print(_run_locally(settings, force))
            return
        status = client.call("POST", "/v1/personalization/runs", json={"force": force})
        if status.get("running") is None:
            outcome = status.get("last_outcome") or {}
            console.print(f"{outcome.get('status', 'skipped')}: {outcome.get('message', '')}")
            return
        if not wait:
            console.print(f"started job {status['running']['job']} in the hub")
            return

        def poll() -> dict[str, Any] | None:
            nonlocal status
            status = client.call("GET", "/v1/personalization")
            running: dict[str, Any] | None = status.get("running")
            return running

        _watch(poll)
        outcome = status.get("last_outcome") or {}
        console.print(f"{outcome.get('status', '?')}: {outcome.get('message', '')}")


@app.command()
def status(data_dir: DataDirOption = None) -> None:
    """The run going on, the last run and the active adapter."""
    with _connection(data_dir) as (settings, client):
        if client is not None:
            current = client.call("GET", "/v1/personalization")
            running = current.get("running")
            if running:
                console.print(
                    f"running job {running['job']}: {running['phase']}, step "
                    f"{running['step']}/{running['total_steps'] or '?'}"
                )
            last = current.get("last_run")
        else:
            last = registry_for(settings.data_dir).read_state().get("last_run")
        if last:
            when = datetime.fromtimestamp(last["finished_at"]).strftime("%Y-%m-%d %H:%M")
            console.print(f"last run {when}: {last['status']}: {last['message']}")
        else:
            console.print("no run yet")
        active = [v for v in _versions(settings, client) if v["active"]]
        console.print(f"active adapter: {', '.join(v['id'] for v in active) or 'none'}")


def _versions(settings: Settings, client: HubClient | None) -> list[dict[str, Any]]:
    if client is not None:
        data: list[dict[str, Any]] = client.call("GET", "/v1/personalization/adapters")["data"]
        return data
    registry = registry_for(settings.data_dir)
    active = set(registry.active_ids().values())
    return [{**v.to_json(), "active": v.id in active} for v in reversed(registry.versions())]


def _answered(scores: dict[str, Any]) -> str:
    if scores.get("questions") is None:
        return "not judged"
    return f"{scores.get('answered', 0)}/{scores['questions']}"


def _number(scores: dict[str, Any], key: str, digits: int) -> str:
    value = scores.get(key)
    return "-" if value is None else f"{value:.{digits}f}"


def adapter_lines(version: dict[str, Any]) -> list[str]:
    """One adapter as `hub personalize list` prints it: what it is, how it answers the held-out
    questions against what was served before, and examples of answers that changed."""
    metrics = version.get("metrics") or {}
    candidate, current = metrics.get("candidate") or {}, metrics.get("current") or {}
    made = datetime.fromtimestamp(version["created_at"]).strftime("%Y-%m-%d %H:%M")
    gate = "passed the gate" if version["passed_gate"] else "rejected by the gate"
    lines = [f"{version['id']}  {made}  {version['model_name']}  {gate}"]
    if version.get("active"):
        lines[0] += ", active"
    if candidate.get("questions") is None:
        lines.append("  held-out questions were not judged when this adapter was made")
    elif candidate["questions"] == 0:
        lines.append("  no held-out questions to judge it by")
    else:
        lines.append(
            f"  answers {_answered(candidate)} held-out questions (before: {_answered(current)})"
        )
    lines.append(
        f"  personal loss {_number(candidate, 'personal_loss', 3)} (before "
        f"{_number(current, 'personal_loss', 3)}), general perplexity "
        f"{_number(candidate, 'general_perplexity', 2)} (before "
        f"{_number(current, 'general_perplexity', 2)})"
    )
    training = version.get("training") or {}
    kept, steps = training.get("kept_step"), training.get("steps")
    if kept is not None and steps is not None and kept < steps:
        lines.append(
            f"  the weights of step {kept} of {steps}: "
            "later steps drifted too far from general text"
        )
    for key, label in (("now_answered", "now answers"), ("now_missed", "now misses")):
        for example in metrics.get(key) or []:
            lines.append(
                f"  {label}: {example.get('question', '')!r} -> {example.get('answer', '')!r} "
                f"(expected {example.get('expected', '')!r})"
            )
    return lines


@app.command(name="list")
def list_adapters(data_dir: DataDirOption = None) -> None:
    """Every adapter, newest first: its gate result, how many held-out questions it answers
    against what was served before, and examples of answers that changed."""
    with _connection(data_dir) as (settings, client):
        versions = _versions(settings, client)
    if not versions:
        console.print("no adapters yet; train one with `hub personalize run`")
    for version in versions:
        # The person's own words may hold brackets: print them as they are, not as markup.
        console.print("\n".join(adapter_lines(version)), markup=False, highlight=False)


@app.command()
def rollback(data_dir: DataDirOption = None) -> None:
    """Go back one adapter version for the model being served."""
    with _connection(data_dir) as (settings, client):
        if client is not None:
            active = client.call("POST", "/v1/personalization/rollback")["active"]
        else:
            catalog = ModelCatalog(settings.data_dir)
            registry = registry_for(settings.data_dir)
            model_name = settings.model or catalog.active_name()
            sha = base_sha256(registry, catalog.path_for(model_name))
            previous = registry.rollback(sha)
            active = previous.id if previous else None
    console.print(f"active adapter: {active or 'none (the base model alone)'}")


@app.command()
def dataset(
    show: Annotated[bool, typer.Option("--show", help="List the examples too.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """What the next run would learn from: counts by source, and with --show the examples."""
    settings = load_settings(data_dir=data_dir)
    with _conversations(settings) as db:
        built = build_current_dataset(settings, db)
    summary = built.summary
    console.print(
        f"{summary.train_examples} training and {summary.held_out_examples} held-out examples; "
        f"by source: {summary.by_source or 'none'}; preferred answers: {summary.preferred}; "
        f"duplicates dropped: {summary.duplicates_dropped}; excluded conversations: "
        f"{summary.excluded_conversations}; identifiers scrubbed: {summary.scrubbed}"
    )
    if not show:
        return
    table = Table("split", "source", "question", "answer")
    for split, examples in (("train", built.train), ("held out", built.held_out)):
        for example in examples:
            table.add_row(split, example.source, example.prompt, example.answer)
    console.print(table)
