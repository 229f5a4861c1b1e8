"""Shared fixtures: one real hub with the embedded model per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.hub_process import HubProcess, start_hub

# Browser fixtures (Debian's Chromium) for the web UI tests.
pytest_plugins = ["tests.browser_support"]

# Fixtures that start a real hub, load a real model or open a browser: a test that uses one
# (directly or through another fixture) is in the slow tier; `make test-fast` leaves it out.
# Fixtures named *_hub start hubs too. A test that starts one in its own body says so with
# @pytest.mark.slow.
SLOW_FIXTURES = frozenset({"hub", "client", "embedder", "browser", "context", "page"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a real hub, model or browser as slow."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES or any(name.endswith("_hub") for name in fixtures):
            item.add_marker(pytest.mark.slow)


DEFAULT_MODEL = "smollm2-135m-instruct"
SECOND_MODEL = "gemma3-270m"


@pytest.fixture(scope="session", autouse=True)
def shared_base_model_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for the de-quantized base model copy (adapters/base_cache.py) that every
    hub and training child of the session uses, as one person's hubs would: only the first
    nightly job of the session reads the GGUF file into transformers."""
    folder = tmp_path_factory.mktemp("base-model-copy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_PERSONALIZE_BASE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub serving the embedded default model, shared by the whole session."""
    process = start_hub(tmp_path_factory.mktemp("hub") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def client(hub: HubProcess) -> openai.OpenAI:
    """The official OpenAI client pointed at the hub."""
    return openai.OpenAI(
        base_url=f"{hub.base_url}/v1", api_key=hub.token, max_retries=0, timeout=120
    )


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test touch the person's real data directory."""
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "default-data"))
    # An in-process hub's mDNS stays on loopback too.
    monkeypatch.setenv("HUB_MDNS_INTERFACES", "127.0.0.1")
    # The name Starlette's TestClient sends as Host; a real hub answers only to names it knows.
    monkeypatch.setenv("HUB_ALLOWED_HOSTS", "testserver")


@pytest.fixture(scope="session")
def embedder() -> object:
    """The real packaged all-MiniLM-L6-v2, loaded once for every memory test."""
    from memory.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()
