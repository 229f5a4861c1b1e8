"""Durable atomic writes (memory/durable_files.py): the bytes and the rename reach the disk, and a
crash before the rename leaves the old file whole (fast: real files, os.fsync observed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from memory.durable_files import replace_durably, write_atomically


class Fsyncs:
    """Records what every os.fsync flushed: a file's path, or a folder's path with a slash."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.synced: list[str] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            path = os.readlink(f"/proc/self/fd/{fd}")
            kind = "/" if stat.S_ISDIR(os.fstat(fd).st_mode) else ""
            self.synced.append(path + kind)
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def test_a_write_flushes_the_bytes_then_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "models.json"
    target.write_text("old\n")
    fsyncs = Fsyncs(monkeypatch)
    write_atomically(target, '{"active": "mine"}\n')
    assert target.read_text() == '{"active": "mine"}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    [file_sync, folder_sync] = fsyncs.synced
    # The temporary file is flushed under its own name, before the rename makes it the target.
    assert Path(file_sync).parent == tmp_path and Path(file_sync).name.startswith(".models.json.")
    assert folder_sync == f"{tmp_path}/"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.json"]


def test_a_crash_before_the_rename_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "active.json"
    target.write_text('{"history": {"abc": ["v0001"]}}\n')

    def crash(source: object, destination: object) -> None:
        raise OSError(5, "Input/output error (the disk went away)")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        write_atomically(target, '{"history": {}}\n')
    assert target.read_text() == '{"history": {"abc": ["v0001"]}}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["active.json"]


def test_a_crash_while_flushing_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "owner_token"
    target.write_bytes(b"wnas_old\n")

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"wnas_new\n")
    assert target.read_bytes() == b"wnas_old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["owner_token"]


def test_a_finished_file_or_folder_is_flushed_before_and_after_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "checkpoint.pt.partial"
    checkpoint.write_bytes(b"weights")
    staging = tmp_path / "versions" / ".v0001.partial"
    (staging / "nested").mkdir(parents=True)
    (staging / "adapter.gguf").write_bytes(b"GGUF")
    (staging / "nested" / "meta.json").write_text("{}")
    fsyncs = Fsyncs(monkeypatch)

    replace_durably(checkpoint, tmp_path / "checkpoint.pt")
    assert fsyncs.synced == [str(checkpoint), f"{tmp_path}/"]
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"weights"

    fsyncs.synced.clear()
    replace_durably(staging, tmp_path / "versions" / "v0001")
    assert set(fsyncs.synced) == {
        str(staging / "adapter.gguf"),
        str(staging / "nested" / "meta.json"),
        f"{staging / 'nested'}/",
        f"{staging}/",
        f"{tmp_path / 'versions'}/",
    }
    # The folder's entries are flushed before the folder, and the rename's folder last.
    assert fsyncs.synced[-1] == f"{tmp_path / 'versions'}/"
    assert (tmp_path / "versions" / "v0001" / "nested" / "meta.json").read_text() == "{}"
