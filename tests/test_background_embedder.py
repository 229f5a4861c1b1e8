"""The embedding model loading in the background: the store opens, chat answers meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hub.engine.types import ChatMessage
from hub.recall.chat_memory import MemoryAccess, recall_sync
from hub.recall.service import MemoryService
from memory.background_embedder import BackgroundEmbedder, embedder_ready
from memory.embedder import Embedder, EmbedderLoadError
from memory.fake_embedder import HashingEmbedder
from memory.jobs import FactJobQueue
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory, SearchFilters


def gated(release: threading.Event, model: Embedder) -> BackgroundEmbedder:
    def load() -> Embedder:
        release.wait(30)
        return model

    return BackgroundEmbedder(load, model.name, model.dimension)


def service(path: Path, embedder: Embedder) -> MemoryService:
    return MemoryService(
        store=SqliteMemoryStore(path, embedder),
        embedder=embedder,
        jobs=FactJobQueue(str(path)),
        context_tokens=400,
        context_items=3,
        min_similarity=0.1,
        personal_min_similarity=0.1,
        general_min_similarity=0.1,
        store_messages=True,
        extract_facts=False,
    )


def test_the_store_opens_before_the_model_and_search_waits_for_it(tmp_path: Path) -> None:
    release = threading.Event()
    embedder = gated(release, HashingEmbedder())
    store = SqliteMemoryStore(tmp_path / "memory.db", embedder)
    assert not embedder_ready(embedder)
    release.set()
    store.add(NewMemory("The blue bicycle is in the garage"))
    hits = store.search("where is the bicycle", k=1, mode="vector")
    assert hits[0].item.text == "The blue bicycle is in the garage"
    assert embedder_ready(embedder)
    store.close()


def test_chat_while_the_model_loads_finds_memories_by_words_and_keeps_the_message(
    tmp_path: Path,
) -> None:
    earlier = SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder())
    earlier.add(NewMemory("The spare key to the shed hangs behind the kitchen door"))
    earlier.close()
    release = threading.Event()
    memory = service(tmp_path / "memory.db", gated(release, HashingEmbedder()))
    asked = recall_sync(memory, [ChatMessage("user", "Where is the spare key to the shed?")])
    assert [hit.item.text for hit in asked.hits] == [
        "The spare key to the shed hangs behind the kitchen door"
    ]
    assert asked.hits[0].similarity is None  # found by words: treated as a weak memory
    said = "My sister Ana moved to Lisbon last spring"
    turn = recall_sync(memory, [ChatMessage("user", said)], MemoryAccess(read=False, write=True))
    assert turn.reply is None and turn.hits == []
    assert memory.status().embedder_ready is False
    release.set()
    for _ in range(100):  # the message is kept by a thread once the model is there
        found, _total = memory.store.list_items(SearchFilters(kinds=("message",)), 10, 0)
        if found:
            break
        threading.Event().wait(0.1)
    assert [item.text for item in found] == [said]
    assert memory.status().embedder_ready is True
    later = recall_sync(memory, [ChatMessage("user", "Where did my sister Ana move?")])
    assert said in [hit.item.text for hit in later.hits]
    memory.close()


def test_a_model_that_fails_to_load_says_why_on_use(tmp_path: Path) -> None:
    def broken() -> Embedder:
        raise OSError("model.safetensors is truncated")

    embedder = BackgroundEmbedder(broken, "hashing-test-embedder", 64)
    with pytest.raises(EmbedderLoadError, match="truncated"):
        embedder.embed(["anything"])
    other = BackgroundEmbedder(lambda: HashingEmbedder(32), "hashing-test-embedder", 64)
    with pytest.raises(EmbedderLoadError, match="32 dimensions"):
        other.embed(["anything"])


def test_a_model_not_started_loads_on_start_or_on_first_use() -> None:
    calls: list[str] = []

    def load() -> Embedder:
        calls.append("load")
        return HashingEmbedder()

    waiting = BackgroundEmbedder(load, "hashing-test-embedder", 64, start=False)
    assert calls == [] and not embedder_ready(waiting)
    assert waiting.embed(["first use"]).shape == (1, 64)  # starts it, and waits for it
    started = BackgroundEmbedder(load, "hashing-test-embedder", 64, start=False)
    started.start()
    started.start()  # once only
    started.model()
    assert calls == ["load", "load"]


def test_the_hub_opens_the_store_before_the_model_starts_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's import holds the interpreter for long stretches: the store opens first."""
    from hub.recall import service as service_module
    from hub.settings import Settings
    from memory.embedder import PACKAGED_MODEL_DIMENSION, PACKAGED_MODEL_NAME

    release = threading.Event()
    loading_while_opening: list[bool] = []

    def slow_model(threads: int | None = None) -> Embedder:
        release.wait(30)
        return HashingEmbedder(PACKAGED_MODEL_DIMENSION, PACKAGED_MODEL_NAME)

    class WatchedStore(SqliteMemoryStore):
        def __init__(self, path: Path, embedder: Embedder) -> None:
            names = [thread.name for thread in threading.enumerate()]
            loading_while_opening.append("embedder-load" in names)
            super().__init__(path, embedder)

    monkeypatch.setattr(service_module, "SentenceTransformerEmbedder", slow_model)
    monkeypatch.setattr(service_module, "SqliteMemoryStore", WatchedStore)
    settings = Settings(data_dir=tmp_path, voice_enabled=False, mdns_enabled=False)
    memory = service_module.open_memory(settings)
    try:
        assert loading_while_opening == [False]
        assert not embedder_ready(memory.embedder)
        release.set()
        memory.store.add(NewMemory("The red kettle is on the top shelf"))
        assert embedder_ready(memory.embedder)
    finally:
        release.set()
        memory.close()
