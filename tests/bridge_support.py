"""What the bridge endpoint tests share: an in-process hub driven as its owner, adding bridges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.settings import Settings
from memory.embedder import Embedder
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel


def owner_client(
    tmp_path: Path, embedder: Embedder | None = None, **overrides: Any
) -> Iterator[TestClient]:
    """The real app (fake model; the hashing embedder unless ``embedder`` is given) behind a
    TestClient that sends the owner's token; ``overrides`` are settings."""
    settings = Settings(
        data_dir=tmp_path / "data",
        personalize_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
        **overrides,
    )
    app = create_app(
        settings, loader=lambda name: FakeChatModel(), embedder=embedder or HashingEmbedder()
    )
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def add_bridge(
    api: TestClient, kind: str = "nightscout", name: str = "xDrip phone"
) -> dict[str, Any]:
    """Add a bridge as the owner; the answer carries its secret and setup lines."""
    made = api.post("/v1/bridges", json={"kind": kind, "name": name})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body
