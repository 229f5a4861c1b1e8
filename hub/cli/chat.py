"""`hub chat`: ask the running hub, or load the model here when no hub runs."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from hub.cli.hub_client import HubClient, HubRequestError
from hub.cli.options import DataDirOption
from hub.cli.running_hub import answering_hub
from hub.engine.types import ChatMessage, GenerationStats, Sampling
from hub.models.catalog import ModelCatalog, UnknownModelError
from hub.settings import Settings, load_settings


def _chat_locally(settings: Settings, payload: dict[str, Any], console: Console) -> None:
    from hub.engine.chat_model import ChatModel
    from hub.engine.context_window import fit_chat
    from hub.engine.llama_model import LlamaCppModel
    from hub.engine.remote_model import RemoteChatModel

    catalog = ModelCatalog(settings.data_dir)
    name = payload["model"]
    remote = catalog.get(name).remote
    model: ChatModel
    if remote is not None:  # the engine on the network answers; no fallback without a hub
        model = RemoteChatModel(name, remote, remote.fallback or name)
    else:
        console.print(f"No hub is running; loading {name} here.")
        with console.status(f"Loading {name}..."):
            model = LlamaCppModel(
                name,
                catalog.path_for(name),
                catalog.info(name),
                settings.context_length,
                settings.threads,
            )
    messages = [ChatMessage(m["role"], m["content"]) for m in payload["messages"]]
    sampling = Sampling(temperature=payload["temperature"])
    prompt, params = fit_chat(
        model, messages, payload.get("max_tokens"), settings.default_max_tokens, sampling, False
    )
    for piece in model.generate(prompt, params, GenerationStats(), lambda: False):
        sys.stdout.write(piece)
        sys.stdout.flush()
    model.close()


def chat(
    message: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[str | None, typer.Option(help="Model to answer with.")] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Answer length limit.")] = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="0 is greedy.")] = 0.7,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the assistant something; the answer streams into the terminal."""
    console = Console(stderr=True)
    settings = load_settings(data_dir=data_dir)
    catalog = ModelCatalog(settings.data_dir)
    try:
        chosen = model or settings.model or catalog.active_name()
        catalog.get(chosen)
    except UnknownModelError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": message}
    ]
    payload: dict[str, Any] = {
        "model": chosen,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    client = HubClient(settings)
    try:
        if answering_hub(client, console) is not None:
            for piece in client.stream_chat(payload):
                sys.stdout.write(piece)
                sys.stdout.flush()
        else:
            _chat_locally(settings, payload, console)
    except HubRequestError as exc:
        console.print(f"\n[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    sys.stdout.write("\n")
