"""A nearly full disk refuses memory writes with 507 in the error shape, reads and deletes go on,
and writes come back once there is room (fast: fake model and embedder, real app, real disk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.disk_space import MB, DiskFullError, DiskSpaceGuard, free_bytes
from hub.settings import Settings
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel


@pytest.fixture
def memory_hub(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        voice_enabled=False,
        mdns_enabled=False,
        personalize_enabled=False,
        memory_extract_facts=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_memory_writes_get_507_while_the_disk_is_nearly_full(memory_hub: TestClient) -> None:
    kept = memory_hub.post("/v1/memory", json={"text": "The spare key is under the pot."})
    assert kept.status_code == 200, kept.text
    memory_id = kept.json()["id"]
    guard: DiskSpaceGuard = memory_hub.app.state.hub.disk_space  # type: ignore[attr-defined]
    # More than any disk has free: the real free space on this machine is below it.
    guard.min_free_bytes = 10**18
    writes = [
        ("POST", "/v1/memory", {"json": {"text": "Bought milk."}}),
        ("POST", "/v1/memory/batch", {"json": {"items": [{"text": "Bought eggs."}]}}),
        ("PATCH", f"/v1/memory/{memory_id}", {"json": {"text": "The key is in the drawer."}}),
        ("POST", "/v1/memory/import", {"content": b'{"format":"walking-nas-memory"}\n'}),
    ]
    for method, path, body in writes:
        answer = memory_hub.request(method, path, **body)  # type: ignore[arg-type]
        assert answer.status_code == 507, (path, answer.text)
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "disk_full" and error["type"] == "server_error"
        assert "nearly full" in error["message"] and "HUB_MIN_FREE_DISK_MB" in error["message"]
    # Reading and forgetting (which frees space) still work.
    assert memory_hub.get(f"/v1/memory/{memory_id}").json()["text"].startswith("The spare key")
    assert memory_hub.get("/v1/memory").json()["total"] == 1
    guard.min_free_bytes = 0  # room again (0: no check)
    again = memory_hub.post("/v1/memory", json={"text": "Bought milk."})
    assert again.status_code == 200, again.text
    assert memory_hub.delete(f"/v1/memory/{memory_id}").json()["deleted"] is True


def test_the_guard_reads_the_data_disk_and_names_the_fix(tmp_path: Path) -> None:
    free = free_bytes(tmp_path)
    assert free > 0
    DiskSpaceGuard(tmp_path, 0).check("device frames")  # 0: never refuses
    DiskSpaceGuard(tmp_path, 1).check("device frames")
    with pytest.raises(DiskFullError, match="device frames are refused") as refused:
        DiskSpaceGuard(tmp_path, free * 2 + 10 * MB).check("device frames")
    assert str(tmp_path) in str(refused.value) and "larger disk" in str(refused.value)
