"""Remote engines: an OpenAI-compatible server on the home network as a catalog model. Only the
prompt goes there, only to the address added; when it is down the local model answers and says
so; personalization refuses it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.diagnostics import check_models
from hub.engine.remote_model import RemoteChatModel
from hub.engine.runner import ModelRunner
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.catalog import ModelCatalog, ModelCatalogError, RemoteModelError
from hub.models.packaged import DEFAULT_MODEL_NAME
from hub.models.remote_endpoint import RemoteEndpoint
from hub.settings import Settings
from tests.fakes import FakeChatModel
from tests.hub_process import HubProcess, start_hub
from tests.openai_server import OpenAIServer

PARAMS = SamplingParams(max_tokens=16, temperature=0.0)


@pytest.fixture
def engine() -> Iterator[OpenAIServer]:
    server = OpenAIServer(api_key="remote-key").start()
    yield server
    server.stop()


def remote_for(server: OpenAIServer, fallback: str = "local") -> RemoteChatModel:
    endpoint = RemoteEndpoint(server.url, server.model, server.api_key, fallback)
    return RemoteChatModel("gpu", endpoint, fallback)


def test_a_remote_model_streams_the_servers_answer(engine: OpenAIServer) -> None:
    model = remote_for(engine)
    prompt = model.render_chat([ChatMessage("user", "Hi there")])
    stats = GenerationStats()
    pieces = list(model.generate(prompt, PARAMS, stats, lambda: False))
    assert "".join(pieces) == "Hello from the GPU box."
    assert (stats.completion_tokens, stats.finish_reason) == (5, "stop")
    assert stats.extra["remote_completion_tokens"] == 5
    (request,) = [seen for seen in engine.seen if seen.method == "POST"]
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer remote-key"
    assert request.body is not None
    assert request.body["messages"] == [{"role": "user", "content": "Hi there"}]
    assert request.body["model"] == "household-gpu-model" and request.body["stream"] is True
    text = list(model.generate(model.render_text("Once"), PARAMS, GenerationStats(), lambda: False))
    assert "".join(text) == "Hello from the GPU box."
    assert engine.seen[-1].path == "/v1/completions" and engine.seen[-1].body["prompt"] == "Once"  # type: ignore[index]
    model.close()


def test_the_local_model_answers_while_the_remote_one_is_down(engine: OpenAIServer) -> None:
    remote = remote_for(engine)
    local = FakeChatModel("local", context_length=4096, reply="local words")
    runner = ModelRunner(lambda name: remote if name == "gpu" else local, "gpu", max_queue=4)

    async def ask() -> tuple[str, str]:
        generation = await runner.start(
            None, lambda model: (model.render_chat([ChatMessage("user", "hi")]), PARAMS)
        )
        text = "".join([piece async for piece in generation])
        await generation.wait_finished()
        return generation.model_name, text

    async def scenario() -> None:
        assert await ask() == ("gpu", "Hello from the GPU box.")
        engine.stop()
        assert await ask() == ("local", "local words")  # at once: no request fails first
        await runner.close()

    asyncio.run(scenario())
    assert remote.reachable() is False


def test_a_remote_entry_needs_a_real_address_and_a_local_fallback(tmp_path: Path) -> None:
    catalog = ModelCatalog(tmp_path)
    with pytest.raises(ModelCatalogError, match="API base"):
        catalog.add_remote("gpu", RemoteEndpoint("ftp://box/v1", "m"))
    with pytest.raises(ModelCatalogError, match="--api-key"):
        catalog.add_remote("gpu", RemoteEndpoint("http://user:pw@box:8080/v1", "m"))
    entry = catalog.add_remote("gpu", RemoteEndpoint("http://192.168.1.20:8080/v1/", "m"))
    assert entry.remote is not None and entry.remote.url == "http://192.168.1.20:8080/v1"
    assert entry.remote.fallback == DEFAULT_MODEL_NAME
    with pytest.raises(ModelCatalogError, match="remote engine too"):
        catalog.add_remote("gpu2", RemoteEndpoint("http://box/v1", "m", fallback="gpu"))
    with pytest.raises(RemoteModelError, match="cannot change a remote model"):
        catalog.path_for("gpu")
    assert [row.entry.name for row in catalog.listing()][-1] == "gpu"
    catalog.remove("gpu")
    assert "gpu" not in catalog.names()


def test_cli_add_remote_asks_the_server_for_its_model(tmp_path: Path, engine: OpenAIServer) -> None:
    data = str(tmp_path / "data")
    added = CliRunner().invoke(
        app,
        ["models", "add-remote", "gpu", engine.url, "--api-key", "remote-key", "--data-dir", data],
    )
    assert added.exit_code == 0, added.output
    assert "Added gpu: household-gpu-model" in " ".join(added.output.split())
    listed = CliRunner().invoke(app, ["models", "list", "--json", "--data-dir", data])
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["gpu"]["source"] == "remote" and rows["gpu"]["remote_url"] == engine.url
    said = CliRunner().invoke(app, ["chat", "Hi", "--model", "gpu", "--data-dir", data])
    assert said.exit_code == 0 and "Hello from the GPU box." in said.output
    assert CliRunner().invoke(app, ["models", "use", "gpu", "--data-dir", data]).exit_code == 0
    refused = CliRunner().invoke(app, ["personalize", "run", "--data-dir", data])
    assert "cannot change a remote model" in " ".join(refused.output.split())
    (check,) = [
        r for r in check_models(Settings(data_dir=Path(data))) if r.name.startswith("model gpu")
    ]
    assert (check.status, check.detail) == (
        "ok",
        f"remote engine {engine.url}, model {engine.model}",
    )
    engine.stop()
    (check,) = [
        r for r in check_models(Settings(data_dir=Path(data))) if r.name.startswith("model gpu")
    ]
    assert check.status == "warn" and "does not answer" in check.detail
    assert f"meanwhile {DEFAULT_MODEL_NAME} answers" in check.fix


@pytest.fixture(scope="module")
def remote_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HubProcess, OpenAIServer]]:
    server = OpenAIServer(api_key="remote-key").start()
    data = tmp_path_factory.mktemp("remote-hub") / "data"
    added = CliRunner().invoke(
        app,
        [
            "models",
            "add-remote",
            "gpu",
            server.url,
            "--api-key",
            "remote-key",
            "--data-dir",
            str(data),
        ],
    )
    assert added.exit_code == 0, added.output
    assert CliRunner().invoke(app, ["models", "use", "gpu", "--data-dir", str(data)]).exit_code == 0
    process = start_hub(data)
    yield process, server
    process.stop()
    server.stop()


def test_a_real_hub_sends_only_the_prompt_and_falls_back_when_the_engine_stops(
    remote_hub: tuple[HubProcess, OpenAIServer],
) -> None:
    hub, server = remote_hub
    chat = {"model": "gpu", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
    with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=120) as http:
        answer = http.post("/v1/chat/completions", json=chat).json()
        assert answer["model"] == "gpu"
        assert answer["choices"][0]["message"]["content"] == "Hello from the GPU box."
        sent = [seen for seen in server.seen if seen.method == "POST"]
        assert sent and all(seen.headers["Authorization"] == "Bearer remote-key" for seen in sent)
        assert hub.token not in json.dumps([seen.headers for seen in server.seen])
        assert sent[-1].body is not None and sent[-1].body["messages"][-1]["content"] == "Hi"

        refused = http.post("/v1/personalization/runs", json={"force": True})
        assert refused.status_code == 409
        assert "cannot change a remote model" in refused.json()["error"]["message"]

        server.stop()
        fallback = http.post("/v1/chat/completions", json=chat).json()
        assert fallback["model"] == DEFAULT_MODEL_NAME  # the answer says who answered
        assert fallback["choices"][0]["message"]["content"].strip()
