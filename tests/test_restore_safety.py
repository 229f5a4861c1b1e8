"""`hub restore` trusts only what it checked: the bytes it hashes are the bytes it installs, and
a backup's settings cannot widen the hub's exposure (fast: real files, real backups, the CLI)."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.backup import BackupRefusedError, create_backup, restore_backup
from hub.backup.manifest import PAYLOAD_DIR
from hub.backup.restored_settings import model_file_problem
from hub.cli.main import app
from hub.datadir import ensure_owner_token
from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME
from hub.settings import load_settings
from hub.voice.satellite_store import SatelliteStore

runner = CliRunner()
WIDE_OPEN = 'host = "0.0.0.0"\nrequire_token = false\nwyoming_server_host = "0.0.0.0"\n'
GGUF_BYTES = b"GGUF" + bytes(60)


def said(result: Any) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@dataclass
class Made:
    """A data directory, a backup of it, and the model files its models.json names."""

    data_dir: Path
    backup: Path
    models: dict[str, Path]


def gguf_file(path: Path, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GGUF_BYTES)
    path.chmod(mode)
    return path


@pytest.fixture
def made(tmp_path: Path) -> Made:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    ensure_owner_token(data_dir)
    with sqlite3.connect(data_dir / "notes.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.executemany("INSERT INTO notes VALUES (?)", [("blue door",), ("red bicycle",)])
    conn.close()
    satellites = SatelliteStore.open(data_dir)
    satellites.add("kitchen", "192.0.2.7", 10700)
    satellites.seen("hall", "hall", "192.0.2.8", 10700)
    satellites.close()
    (data_dir / "hub.toml").write_text(WIDE_OPEN)
    (data_dir / "adapters" / "a1").mkdir(parents=True)
    (data_dir / "adapters" / "a1" / "adapter.gguf").write_bytes(os.urandom(4096))
    backup = tmp_path / "media" / "backup"
    models = {
        "mine": gguf_file(tmp_path / "models" / "mine.gguf"),
        "gone": tmp_path / "models" / "gone.gguf",
        "shared": gguf_file(tmp_path / "models" / "shared.gguf", mode=0o666),
        "open-folder": gguf_file(tmp_path / "open" / "open.gguf"),
        "text": tmp_path / "models" / "notes.txt",
        "on-backup": backup / "evil.gguf",
    }
    (tmp_path / "open").chmod(0o777)
    models["text"].write_text("not a model")
    registry = {
        "active": "on-backup",
        "user_models": {name: str(path) for name, path in models.items()},
        "info_cache": {f"{models['mine']}:64:1": {"architecture": "forged"}},
    }
    (data_dir / "models.json").write_text(json.dumps(registry))
    create_backup(data_dir, backup)
    gguf_file(backup / "evil.gguf")  # beside the payload: the folder's checks never read it
    return Made(data_dir, backup, models)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def live_data(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    live = tmp_path / "live"
    live.mkdir(mode=0o700)
    (live / "owner_token").write_text("wnas_live\n")
    (live / "hub.toml").write_text("max_queue = 3\n")
    (live / "notes.db").write_bytes(b"today's data")
    return live, tree(live)


def test_a_file_changed_after_the_check_is_refused_and_live_data_untouched(
    made: Made, tmp_path: Path
) -> None:
    live, before = live_data(tmp_path)
    payload = made.backup / PAYLOAD_DIR
    swapped = []

    def swap_before_copy(relative: str, size: int) -> None:
        # The moment a hash-then-copy restore was exposed: the layout and sizes were checked,
        # and the file changes on the media (same size, one byte) just before it is read.
        if relative == "notes.db":
            data = bytearray((payload / relative).read_bytes())
            data[len(data) // 2] ^= 0x01
            (payload / relative).write_bytes(bytes(data))
            swapped.append(relative)

    with pytest.raises(BackupRefusedError, match=r"notes\.db fails its sha256 checksum"):
        restore_backup(made.backup, live, force=True, progress=swap_before_copy)
    assert swapped == ["notes.db"]
    assert tree(live) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "live", "media", "models", "open"]


def test_a_payload_file_that_is_a_link_is_refused(made: Made, tmp_path: Path) -> None:
    # The link's target has the very bytes the manifest lists, so only the link gives it away.
    token = made.backup / PAYLOAD_DIR / "owner_token"
    elsewhere = tmp_path / "elsewhere-token"
    elsewhere.write_bytes(token.read_bytes())
    token.unlink()
    token.symlink_to(elsewhere)
    target = tmp_path / "target"
    result = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(target)])
    assert result.exit_code == 2, result.output
    assert "owner_token is a symbolic link or lies behind one" in said(result)
    assert not target.exists()


def test_the_backups_settings_are_set_aside_and_the_defaults_hold(
    made: Made, tmp_path: Path
) -> None:
    restored = tmp_path / "restored"
    result = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    assert f"set aside in {restored / 'hub.toml.restored'}" in said(result)
    assert "default settings (this machine only, token required)" in said(result)
    assert not (restored / "hub.toml").exists()
    assert (restored / "hub.toml.restored").read_text() == WIDE_OPEN
    assert oct((restored / "hub.toml.restored").stat().st_mode & 0o777) == "0o600"
    settings = load_settings(data_dir=restored)
    assert settings.listens_on_loopback and settings.require_token
    assert settings.wyoming_server_host == "127.0.0.1"
    # Data and keys come back as they were.
    assert (restored / "owner_token").read_bytes() == (made.data_dir / "owner_token").read_bytes()
    with sqlite3.connect(restored / "notes.db") as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2,)
    conn.close()


def test_this_machines_settings_are_kept_over_the_backups(made: Made, tmp_path: Path) -> None:
    live, _ = live_data(tmp_path)
    result = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(live), "--force"])
    assert result.exit_code == 0, result.output
    assert "this machine's hub.toml was kept" in said(result)
    assert (live / "hub.toml").read_text() == "max_queue = 3\n"
    assert (live / "hub.toml.restored").read_text() == WIDE_OPEN
    assert load_settings(data_dir=live).max_queue == 3

    # Settings kept outside the data directory through a link stay linked.
    linked = tmp_path / "linked"
    linked.mkdir()
    (tmp_path / "etc-hub.toml").write_text("max_queue = 5\n")
    (linked / "hub.toml").symlink_to(tmp_path / "etc-hub.toml")
    kept = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(linked), "--force"])
    assert kept.exit_code == 0, kept.output
    assert (linked / "hub.toml").readlink() == tmp_path / "etc-hub.toml"
    assert load_settings(data_dir=linked).max_queue == 5

    # The same settings on both sides: nothing to review, nothing set aside.
    same = tmp_path / "same"
    same.mkdir()
    (same / "hub.toml").write_text(WIDE_OPEN)
    again = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(same), "--force"])
    assert again.exit_code == 0, again.output
    assert "set aside" not in said(again)
    assert (same / "hub.toml").read_text() == WIDE_OPEN
    assert not (same / "hub.toml.restored").exists()


def test_only_model_files_fit_to_serve_are_restored(made: Made, tmp_path: Path) -> None:
    restored = tmp_path / "restored"
    result = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    output = said(result)
    reasons = {
        "gone": "no such file on this machine",
        "shared": "other users may change the file",
        "open-folder": "other users may change its folder",
        "text": "not a GGUF model file",
        "on-backup": "it lies on the backup's disk or share",
    }
    for name, reason in reasons.items():
        assert f"Model not restored: {name} ({made.models[name]}): {reason}" in output
        assert f"hub models add PATH --name {name}" in output
    catalog = ModelCatalog(restored)
    assert [e.name for e in catalog.entries() if e.source == "user"] == ["mine"]
    assert catalog.path_for("mine") == made.models["mine"]
    assert catalog.active_name() == DEFAULT_MODEL_NAME  # the backup chose a dropped model
    saved = json.loads((restored / "models.json").read_text())
    assert saved["info_cache"] == {} and saved["active"] is None


def test_a_model_on_the_backups_own_disk_is_not_trusted(made: Made) -> None:
    mine = made.models["mine"]
    trusted = frozenset({os.geteuid()})
    assert model_file_problem(str(mine), made.backup, trusted, backup_media=None) is None
    on_that_disk = mine.stat().st_dev  # as if the backup were on the disk that holds the model
    problem = model_file_problem(str(mine), made.backup, trusted, backup_media=on_that_disk)
    assert problem == "it lies on the backup's disk or share"
    assert model_file_problem("models/mine.gguf", made.backup, trusted, None) == (
        "not an absolute path"
    )
    assert model_file_problem(str(mine), made.backup, frozenset({12345}), None) == (
        "other users may change the file"
    )


def test_satellites_the_backup_approved_wait_for_approval_again(made: Made, tmp_path: Path) -> None:
    restored = tmp_path / "restored"
    result = runner.invoke(app, ["restore", str(made.backup), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    assert "192.0.2.7:10700" in said(result) and "hub voice approve ID" in said(result)
    satellites = SatelliteStore.open(restored)
    try:
        statuses = {s.name: (s.host, s.status, s.approved_at) for s in satellites.all()}
    finally:
        satellites.close()
    assert statuses == {
        "kitchen": ("192.0.2.7", "discovered", None),
        "hall": ("192.0.2.8", "discovered", None),
    }
