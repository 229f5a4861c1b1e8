"""`hub backup` and `hub restore`: taken while a real hub writes, restored, served again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devices.samples import Sample
from hub.backup import BackupRefusedError, create_backup, verify_backup
from hub.backup.manifest import MANIFEST_NAME, PAYLOAD_DIR
from hub.cli.main import app
from hub.conversations.store import CONVERSATIONS_DB_NAME
from hub.wearables.store import DEVICES_DB_NAME
from hub.web.sessions import SESSIONS_DB_NAME
from memory.sqlite_store import MEMORY_DB_NAME
from tests.devices_support import T0, make_client, pair_client, until
from tests.hub_process import HubProcess, start_hub

runner = CliRunner()
PASSPHRASE = "correct horse battery staple"
WEB = {"X-Hub-Client": "web"}
HUB_ENV = {"HUB_DEFAULT_MAX_TOKENS": "8"}
ADAPTER_BYTES = os.urandom(4096)


def said(result: Any) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@dataclass
class Written:
    """What the writers were told was stored, with when the hub acknowledged it."""

    notes: dict[str, tuple[str, float]] = field(default_factory=dict)
    chats: int = 0
    device_batches: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    """A backup taken while a real hub answered chats and stored memories."""

    hub: HubProcess
    data_dir: Path
    backup: Path
    conversation_id: str
    written: Written
    backup_started: float
    backup_finished: float


def _write_notes(hub: HubProcess, written: Written, stop: threading.Event) -> None:
    with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=60) as client:
        number = 0
        while not stop.is_set():
            text = f"concurrent note {number}: the red bicycle is in shed {number}"
            answer = client.post("/v1/memory", json={"text": text, "kind": "note"})
            if answer.status_code != 200:
                written.errors.append(answer.text)
                return
            written.notes[answer.json()["id"]] = (text, time.monotonic())
            number += 1


def _chat(hub: HubProcess, written: Written, stop: threading.Event) -> None:
    with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=60) as client:
        while not stop.is_set():
            answer = client.post(
                "/v1/chat/completions",
                json={
                    "model": "smollm2-135m-instruct",
                    "messages": [{"role": "user", "content": f"I had {written.chats} apples."}],
                    "max_tokens": 8,
                },
            )
            if answer.status_code != 200:
                written.errors.append(answer.text)
                return
            written.chats += 1


DEVICE_ID = "backup-watch"
SAMPLES_PER_BATCH = 10


def _stream_device(hub: HubProcess, written: Written, stop: threading.Event, state: Path) -> None:
    """A paired watch streaming heart-rate batches, noting when each was acknowledged."""

    async def stream() -> None:
        client = make_client(hub.base_url, state, DEVICE_ID)
        link = asyncio.create_task(client.run_forever())
        try:
            await pair_client(hub, client)
            batch = 0
            while not stop.is_set():
                samples = [
                    Sample("heart_rate", T0 + batch * SAMPLES_PER_BATCH + k, 60.0 + k)
                    for k in range(SAMPLES_PER_BATCH)
                ]
                seq = await client.send_samples(samples)
                await until(lambda s=seq: client.acked >= s, what=f"the ack of batch {seq}")
                written.device_batches[seq] = time.monotonic()
                batch += 1
        finally:
            link.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link
            client.state.close()

    try:
        asyncio.run(stream())
    except Exception as exc:
        written.errors.append(f"device: {exc!r}")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("backup")
    data_dir = root / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "hub.toml").write_text("max_queue = 8\n")
    (data_dir / "adapters" / "a1").mkdir(parents=True)
    (data_dir / "adapters" / "a1" / "adapter.gguf").write_bytes(ADAPTER_BYTES)
    (data_dir / "models").mkdir()
    (data_dir / "models" / "assembled.gguf").write_bytes(b"cache" * 1000)
    hub = start_hub(data_dir, env=HUB_ENV)
    try:
        with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=60) as client:
            first = client.post(
                "/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB
            )
            assert first.status_code == 201, first.text
            conversation = client.post("/v1/conversations", json={"title": "Backups"}).json()
            sent = client.post(
                f"/v1/conversations/{conversation['id']}/messages",
                json={"content": "Remember the blue door."},
            )
            assert sent.status_code == 200, sent.text
        written = Written()
        stop = threading.Event()
        writers = [
            threading.Thread(target=_write_notes, args=(hub, written, stop)),
            threading.Thread(target=_chat, args=(hub, written, stop)),
            threading.Thread(
                target=_stream_device, args=(hub, written, stop, root / "watch-state.db")
            ),
        ]
        for writer in writers:
            writer.start()
        try:
            deadline = time.monotonic() + 60
            while (
                len(written.notes) < 5 or written.chats < 1 or len(written.device_batches) < 3
            ) and time.monotonic() < deadline:
                time.sleep(0.1)
            started = time.monotonic()
            result = runner.invoke(
                app, ["backup", str(root / "backup"), "--data-dir", str(data_dir)]
            )
            finished = time.monotonic()
            assert result.exit_code == 0, result.output
            # Writes go on after the backup, as they would on a real hub.
            written_after = len(written.notes) + 3
            while len(written.notes) < written_after and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
        assert not written.errors, written.errors
        assert written.chats >= 1
        yield Scenario(
            hub, data_dir, root / "backup", conversation["id"], written, started, finished
        )
    finally:
        hub.stop()


def rows_by_table(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ordinary table (FTS shadow tables included), in a stable order."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if not sql.upper().startswith("CREATE VIRTUAL")
        ]
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
        }
    finally:
        conn.close()


@pytest.mark.slow  # the scenario runs a real hub
def test_backup_covers_every_database_and_file_but_the_model_cache(scenario: Scenario) -> None:
    manifest = json.loads((scenario.backup / MANIFEST_NAME).read_text())
    assert (manifest["format"], manifest["format_version"]) == ("walking-nas-backup", 1)
    assert manifest["hub_version"]
    entries = {entry["path"]: entry for entry in manifest["files"]}
    databases = {path.name for path in scenario.data_dir.glob("*.db")}
    assert {MEMORY_DB_NAME, CONVERSATIONS_DB_NAME, SESSIONS_DB_NAME} <= databases
    assert {p for p, e in entries.items() if e["kind"] == "sqlite"} == databases
    for name in ("owner_token", "hub.toml", "web_passphrase", "models.json"):
        assert entries[name]["kind"] == "file"
    assert "adapters/a1/adapter.gguf" in entries
    assert not [path for path in entries if path.startswith("models/") or "-wal" in path]
    assert manifest["skipped"] == ["models/"]
    memory_schema = entries[MEMORY_DB_NAME]["schema"]
    assert memory_schema["migrations"] == [
        "m001_initial",
        "m002_fact_jobs",
        "m003_vector_log",
        "m004_housekeeping",
        "m005_chunk_filters",
    ]
    assert entries[CONVERSATIONS_DB_NAME]["schema"]["migrations"] == [
        "m001_initial",
        "m002_learning_feedback",
    ]
    assert (scenario.backup.stat().st_mode & 0o777) == 0o700
    assert verify_backup(scenario.backup).files


@pytest.mark.slow  # the scenario runs a real hub
def test_backup_taken_under_writes_is_consistent(scenario: Scenario) -> None:
    memory_db = scenario.backup / PAYLOAD_DIR / MEMORY_DB_NAME
    for database in (scenario.backup / PAYLOAD_DIR).glob("*.db"):
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", database
    with sqlite3.connect(memory_db) as conn:
        notes = dict(conn.execute("SELECT id, text FROM items WHERE kind = 'note'").fetchall())
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        vectors = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM items WHERE kind='message'").fetchone()[0]
    before = {
        memory_id: text
        for memory_id, (text, at) in scenario.written.notes.items()
        if at < scenario.backup_started
    }
    # Everything acknowledged before the backup began is in it, word for word; nothing in it
    # is unknown; and each memory came whole (chunks with their vectors, or not at all).
    assert before and all(notes.get(memory_id) == text for memory_id, text in before.items())
    assert set(notes) <= set(scenario.written.notes)
    assert all(scenario.written.notes[memory_id][0] == text for memory_id, text in notes.items())
    assert chunks == vectors
    assert messages >= 1
    assert len(notes) < len(scenario.written.notes)  # the writers really went on afterwards


@pytest.mark.slow  # the scenario runs a real hub
def test_backup_holds_every_device_batch_acknowledged_before_it(scenario: Scenario) -> None:
    with sqlite3.connect(scenario.backup / PAYLOAD_DIR / DEVICES_DB_NAME) as conn:
        per_seq = dict(
            conn.execute(
                "SELECT seq, count(*) FROM samples WHERE device_id = ? GROUP BY seq", (DEVICE_ID,)
            ).fetchall()
        )
    acked_before = [
        seq for seq, at in scenario.written.device_batches.items() if at < scenario.backup_started
    ]
    assert acked_before, "the watch should have streamed before the backup"
    assert all(per_seq.get(seq) == SAMPLES_PER_BATCH for seq in acked_before)
    # Every batch in the backup is whole, and none is unknown to the watch.
    assert set(per_seq.values()) == {SAMPLES_PER_BATCH}
    assert len(per_seq) < len(scenario.written.device_batches)  # it streamed on afterwards


@pytest.mark.slow  # the scenario runs a real hub
def test_restore_into_an_empty_directory_gives_back_every_row_and_file(
    scenario: Scenario, tmp_path: Path
) -> None:
    restored = tmp_path / "restored"
    result = runner.invoke(app, ["restore", str(scenario.backup), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    payload = scenario.backup / PAYLOAD_DIR
    backed_up = sorted(p.relative_to(payload) for p in payload.rglob("*") if p.is_file())
    # The backup's hub.toml is set aside for review, never put in force by a restore.
    assert "hub.toml.restored" in said(result)
    assert not (restored / "hub.toml").exists()
    (restored / "hub.toml.restored").rename(restored / "hub.toml")
    got = sorted(p.relative_to(restored) for p in restored.rglob("*") if p.is_file())
    assert got == backed_up
    assert (restored.stat().st_mode & 0o777) == 0o700
    for relative in got:
        path = restored / relative
        assert (path.stat().st_mode & 0o777) == 0o600, relative
        if path.suffix == ".db":
            assert rows_by_table(path) == rows_by_table(payload / relative), relative
        elif path.name == "models.json":
            # Restore drops the metadata cache (the hub reads model files again); the list stays.
            live = json.loads((scenario.data_dir / relative).read_text())
            kept = json.loads(path.read_text())
            assert kept["info_cache"] == {}
            assert (kept["active"], kept["user_models"]) == (live["active"], live["user_models"])
        else:
            # Small files do not change while the hub runs: compare with the live originals.
            assert path.read_bytes() == (scenario.data_dir / relative).read_bytes(), relative
    assert (restored / "adapters" / "a1" / "adapter.gguf").read_bytes() == ADAPTER_BYTES
    assert not (restored / "models").exists()


@pytest.mark.slow
def test_an_older_schema_restores_and_a_real_hub_serves_it(
    scenario: Scenario, tmp_path: Path
) -> None:
    # The data as an older hub left it: memory.db before migrations m002 (the fact-jobs table)
    # and m003 (the vector log, its triggers, and the items' source and time indexes), m004
    # (housekeeping's tables) and m005 (the chunks' filter fields and their triggers).
    older = tmp_path / "older"
    shutil.copytree(scenario.backup / PAYLOAD_DIR, older)
    with sqlite3.connect(older / MEMORY_DB_NAME) as conn:
        conn.execute("DROP TABLE fact_jobs")
        conn.execute("DROP TRIGGER vectors_log_ai")
        conn.execute("DROP TRIGGER vectors_log_ad")
        conn.execute("DROP TABLE vector_log")
        conn.execute("DROP INDEX idx_items_source")
        conn.execute("DROP INDEX idx_items_happened_at_id")
        for table in ("housekeeping_policy", "housekeeping_runs", "housekeeping_batches"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP TABLE held_items")
        for trigger in ("chunks_filters_ai", "chunks_filters_ad", "items_filters_au"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE chunk_filters")
        conn.execute(
            "DELETE FROM _migrations WHERE name IN "
            "('m002_fact_jobs', 'm003_vector_log', 'm004_housekeeping', 'm005_chunk_filters')"
        )
    old_backup = tmp_path / "older-backup"
    manifest = create_backup(older, old_backup)
    schema = {entry.path: entry.schema for entry in manifest.files}[MEMORY_DB_NAME]
    assert schema is not None and schema.migrations == ("m001_initial",)

    restored = tmp_path / "restored"
    result = runner.invoke(app, ["restore", str(old_backup), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    hub = start_hub(restored, env=HUB_ENV)
    try:
        assert hub.token == scenario.hub.token
        with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=60) as client:
            before = [
                (memory_id, text)
                for memory_id, (text, at) in scenario.written.notes.items()
                if at < scenario.backup_started
            ]
            for memory_id, text in before:
                answer = client.get(f"/v1/memory/{memory_id}")
                assert answer.status_code == 200, answer.text
                assert answer.json()["text"] == text
            found = client.post("/v1/memory/search", json={"query": "red bicycle shed"}).json()
            assert found["results"]
            conversation = client.get(f"/v1/conversations/{scenario.conversation_id}").json()
            assert conversation["title"] == "Backups"
            assert [m["role"] for m in conversation["messages"]][:2] == ["user", "assistant"]
            assert client.get("/v1/memory/status").status_code == 200
        with httpx.Client(base_url=hub.base_url, timeout=60) as browser:
            signed_in = browser.post("/v1/session", json={"passphrase": PASSPHRASE}, headers=WEB)
            assert signed_in.status_code == 200, signed_in.text
    finally:
        hub.stop()
    with sqlite3.connect(restored / MEMORY_DB_NAME) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        assert {"m002_fact_jobs", "m005_chunk_filters"} <= names  # brought up to date on start


@pytest.mark.slow  # the scenario runs a real hub
def test_restore_refuses_a_data_directory_in_use_or_not_empty(
    scenario: Scenario, tmp_path: Path
) -> None:
    in_use = runner.invoke(
        app, ["restore", str(scenario.backup), "--data-dir", str(scenario.data_dir), "--force"]
    )
    assert in_use.exit_code == 2
    assert "in use" in said(in_use) and "stop it first" in said(in_use)

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["restore", str(scenario.backup), "--data-dir", str(occupied)])
    assert refused.exit_code == 2 and "not empty" in said(refused) and "--force" in said(refused)
    forced = runner.invoke(
        app, ["restore", str(scenario.backup), "--data-dir", str(occupied), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert (occupied / "owner_token").exists() and not (occupied / "notes.txt").exists()
    [kept] = tmp_path.glob("occupied.before-restore-*")
    assert (kept / "notes.txt").read_text() == "mine"


@pytest.mark.slow  # the scenario runs a real hub
def test_backup_refuses_a_path_that_is_not_empty(scenario: Scenario, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    result = runner.invoke(
        app, ["backup", str(tmp_path), "--data-dir", str(scenario.backup / PAYLOAD_DIR)]
    )
    assert result.exit_code == 2 and "not empty" in said(result)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    inside = runner.invoke(app, ["backup", str(tmp_path / "b"), "--data-dir", str(tmp_path)])
    assert inside.exit_code == 2 and "inside the data directory" in said(inside)


def damaged_copy(scenario: Scenario, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(scenario.backup, copy)
    return copy


def refusal(backup: Path, tmp_path: Path) -> str:
    target = tmp_path / "target"
    result = runner.invoke(app, ["restore", str(backup), "--data-dir", str(target)])
    assert result.exit_code == 2, result.output
    assert not target.exists() or not any(target.iterdir())
    return said(result)


@pytest.mark.slow  # the scenario runs a real hub
def test_a_truncated_file_is_refused(scenario: Scenario, tmp_path: Path) -> None:
    backup = damaged_copy(scenario, tmp_path)
    database = backup / PAYLOAD_DIR / MEMORY_DB_NAME
    with database.open("r+b") as handle:
        handle.truncate(database.stat().st_size // 2)
    message = refusal(backup, tmp_path)
    assert "memory.db is truncated" in message and "use another backup" in message


@pytest.mark.slow  # the scenario runs a real hub
def test_a_tampered_byte_is_refused(scenario: Scenario, tmp_path: Path) -> None:
    backup = damaged_copy(scenario, tmp_path)
    database = backup / PAYLOAD_DIR / CONVERSATIONS_DB_NAME
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))
    message = refusal(backup, tmp_path)
    assert "conversations.db fails its sha256 checksum" in message


@pytest.mark.slow  # the scenario runs a real hub
def test_a_missing_or_extra_file_is_refused(scenario: Scenario, tmp_path: Path) -> None:
    backup = damaged_copy(scenario, tmp_path)
    (backup / PAYLOAD_DIR / "owner_token").unlink()
    assert "owner_token is missing" in refusal(backup, tmp_path)
    shutil.copy(scenario.backup / PAYLOAD_DIR / "owner_token", backup / PAYLOAD_DIR)
    (backup / PAYLOAD_DIR / "extra.db").write_bytes(b"sneaky")
    assert "does not list (extra.db)" in refusal(backup, tmp_path)


@pytest.mark.slow  # the scenario runs a real hub
def test_a_foreign_directory_or_manifest_is_refused(scenario: Scenario, tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    assert "not a walking-nas backup" in refusal(foreign, tmp_path)
    (foreign / MANIFEST_NAME).write_text(json.dumps({"format": "someone-else", "files": []}))
    assert "not a walking-nas backup manifest" in refusal(foreign, tmp_path)
    (foreign / MANIFEST_NAME).write_text("{not json")
    assert "not valid JSON" in refusal(foreign, tmp_path)

    backup = damaged_copy(scenario, tmp_path)
    manifest = json.loads((backup / MANIFEST_NAME).read_text())
    manifest["files"][0]["path"] = "../../etc/passwd"
    (backup / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert "unsafe path" in refusal(backup, tmp_path)
    manifest["format_version"] = 99
    (backup / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BackupRefusedError, match="upgrade the hub"):
        verify_backup(backup)


@pytest.mark.slow  # the scenario runs a real hub
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files away")
def test_root_restores_files_to_the_data_directory_owner(
    scenario: Scenario, tmp_path: Path
) -> None:
    service_data = tmp_path / "service-data"
    service_data.mkdir()
    os.chown(service_data, 4242, 4242)
    result = runner.invoke(app, ["restore", str(scenario.backup), "--data-dir", str(service_data)])
    assert result.exit_code == 0, result.output
    for path in [service_data, *service_data.rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4242), path
