"""The address file a running hub leaves in its data directory, and the CLI finding it there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.backup.scan import scan_data_dir
from hub.cli.main import app
from hub.datadir import DataDirInUseError, lock_data_dir
from hub.running_address import (
    RUNNING_FILE_NAME,
    RunningAddress,
    local_url,
    process_start_time,
    read_running_address,
    remove_running_address,
    write_running_address,
)
from tests.hub_process import HubProcess, free_port, start_hub

runner = CliRunner()
WIDE = "300"  # columns, so that tables and messages keep their lines whole
HUB_ENV = {
    "HUB_CONTEXT_LENGTH": "2048",
    "HUB_MEMORY_EXTRACT_FACTS": "false",
    "HUB_MDNS_INTERFACES": "127.0.0.1",
    "HUB_WYOMING_SERVER_PORT": "0",
}


def gone_process_record(port: int) -> RunningAddress:
    """The record a hub would have left had it been killed: its process no longer exists."""
    child = subprocess.Popen(["sleep", "60"])
    started = process_start_time(child.pid)
    child.kill()
    child.wait()
    assert started is not None
    return RunningAddress(
        child.pid, started, "127.0.0.1", port, local_url("127.0.0.1", port), "2025-01-01T00:00:00"
    )


def cli_env() -> dict[str, str]:
    """The environment of a person's shell: no HUB_ address settings, only --data-dir."""
    hidden = ("HUB_PORT", "HUB_HOST", "HUB_DATA_DIR")
    kept = {name: value for name, value in os.environ.items() if name not in hidden}
    return {**kept, "COLUMNS": WIDE}


def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )


def says(text: str, *parts: str) -> bool:
    """True when ``text`` holds every part, however the terminal wrapped it."""
    squashed = "".join(text.split())
    return all("".join(part.split()) in squashed for part in parts)


def test_the_record_is_written_owner_only_and_read_back(tmp_path: Path) -> None:
    address = RunningAddress.of_this_process("0.0.0.0", 9000)
    path = write_running_address(tmp_path, address)
    assert path == tmp_path / RUNNING_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_running_address(tmp_path) == address
    assert address.url == "http://127.0.0.1:9000" and address.is_alive()
    saved = json.loads(path.read_text())
    assert (saved["pid"], saved["host"], saved["port"]) == (os.getpid(), "0.0.0.0", 9000)
    assert [p.name for p in tmp_path.iterdir()] == [RUNNING_FILE_NAME]  # no temporary file left


def test_a_new_record_replaces_the_old_file_rather_than_rewriting_it(tmp_path: Path) -> None:
    write_running_address(tmp_path, RunningAddress.of_this_process("127.0.0.1", 9000))
    with (tmp_path / RUNNING_FILE_NAME).open() as reader_of_the_old_one:
        write_running_address(tmp_path, RunningAddress.of_this_process("127.0.0.1", 9001))
        # A reader holding the old file still sees it whole: the new one was renamed into place.
        assert json.loads(reader_of_the_old_one.read())["port"] == 9000
    record = read_running_address(tmp_path)
    assert record is not None and record.port == 9001


def test_local_clients_reach_a_wildcard_address_on_loopback() -> None:
    assert local_url("0.0.0.0", 8484) == "http://127.0.0.1:8484"
    assert local_url("::", 8484) == "http://[::1]:8484"
    assert local_url("192.168.1.20", 8484) == "http://192.168.1.20:8484"
    assert local_url("::1", 80) == "http://[::1]:80"


def test_a_record_whose_process_is_gone_is_stale(tmp_path: Path) -> None:
    assert not gone_process_record(9000).is_alive()
    # The same pid given to a later process (after a reboot) is told apart by its start time.
    mine = RunningAddress.of_this_process("127.0.0.1", 9000)
    reused = RunningAddress(**{**mine.__dict__, "process_started": mine.process_started + 1})
    assert mine.is_alive() and not reused.is_alive()


def test_process_start_time_reads_odd_command_names_and_skips_zombies(tmp_path: Path) -> None:
    rest = " ".join(str(n) for n in range(4, 22))  # fields 4 to 21; the 22nd: start time
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text(f"7 (a b) c) S {rest} 4242 99\n")
    assert process_start_time(7, tmp_path) == 4242
    (tmp_path / "7" / "stat").write_text(f"7 (hub) Z {rest} 4242 99\n")
    assert process_start_time(7, tmp_path) is None
    assert process_start_time(8, tmp_path) is None


def test_a_garbled_record_is_ignored_and_only_its_writer_removes_it(tmp_path: Path) -> None:
    (tmp_path / RUNNING_FILE_NAME).write_text("{not json")
    assert read_running_address(tmp_path) is None
    write_running_address(tmp_path, gone_process_record(9000))
    remove_running_address(tmp_path)  # this process did not write it
    assert (tmp_path / RUNNING_FILE_NAME).exists()
    write_running_address(tmp_path, RunningAddress.of_this_process("127.0.0.1", 9000))
    remove_running_address(tmp_path)
    assert not (tmp_path / RUNNING_FILE_NAME).exists()


def test_backups_leave_the_address_file_out(tmp_path: Path) -> None:
    write_running_address(tmp_path, RunningAddress.of_this_process("127.0.0.1", 9000))
    (tmp_path / "hub.toml").write_text("port = 9000\n")
    items, _ = scan_data_dir(tmp_path)
    assert [item.relative for item in items] == ["hub.toml"]


def test_one_holder_of_a_data_directory_at_a_time(tmp_path: Path) -> None:
    held = lock_data_dir(tmp_path / "data")
    try:
        with pytest.raises(DataDirInUseError):
            lock_data_dir(tmp_path / "data")
    finally:
        os.close(held)
    os.close(lock_data_dir(tmp_path / "data"))


def test_a_stale_record_means_no_hub_and_says_so(tmp_path: Path) -> None:
    record = gone_process_record(free_port())
    write_running_address(tmp_path, record)
    listed = runner.invoke(app, ["devices", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 1
    assert says(listed.output, "no hub is running", str(tmp_path / RUNNING_FILE_NAME), "stale")
    assert says(listed.output, record.url, f"pid {record.pid}")
    doctor = runner.invoke(app, ["doctor", "--data-dir", str(tmp_path)], env={"COLUMNS": WIDE})
    assert "running hub" in doctor.output and "is stale" in doctor.output


def test_a_live_hub_process_that_does_not_answer_is_not_worked_around(tmp_path: Path) -> None:
    # This test's own process stands for a hub still loading its model.
    record = RunningAddress.of_this_process("127.0.0.1", free_port())
    write_running_address(tmp_path, record)
    for command in (["devices", "list"], ["memory", "search", "bicycle"]):
        result = runner.invoke(app, [*command, "--data-dir", str(tmp_path)])
        assert result.exit_code == 1, result.output
        assert says(result.output, f"no hub answers at {record.url}", "still be starting")


def wait_for_record(data_dir: Path, process: subprocess.Popen[bytes]) -> RunningAddress:
    """The address a `hub serve` child records, once it answers there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"hub exited with {process.returncode}"
        record = read_running_address(data_dir)
        if record is not None and record.pid == process.pid:
            try:
                if httpx.get(f"{record.url}/health", timeout=1).status_code == 200:
                    return record
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError("the hub did not record an address that answers")


def serve_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "hub", "serve", "--port", str(port), "--data-dir", str(data_dir)]


@pytest.mark.slow
def test_the_cli_finds_a_hub_on_another_port_and_outlives_its_crash(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hub: HubProcess = start_hub(data_dir, env=HUB_ENV)
    try:
        record = read_running_address(data_dir)
        assert record is not None
        assert (record.pid, record.url) == (hub.process.pid, hub.base_url)
        assert (data_dir / RUNNING_FILE_NAME).stat().st_mode & 0o777 == 0o600

        listed = hub_cli("devices", "list", "--json", "--data-dir", str(data_dir))
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
        added = hub_cli(
            "memory", "add", "The red bicycle is in the shed.", "--data-dir", str(data_dir)
        )
        found = hub_cli("memory", "search", "bicycle", "--data-dir", str(data_dir))
        assert added.returncode == 0 and found.returncode == 0, added.stderr + found.stderr
        assert "red bicycle" in found.stdout
        assert "No hub is running" not in added.stderr + found.stderr  # both went to the hub
        doctor = hub_cli("doctor", "--data-dir", str(data_dir))
        assert hub.base_url in doctor.stdout and f"pid {hub.process.pid}" in doctor.stdout

        second = subprocess.run(
            serve_command(data_dir, free_port()),
            capture_output=True,
            text=True,
            timeout=120,
            env={**cli_env(), **HUB_ENV},
        )
        assert second.returncode == 2
        assert says(second.stderr, "another hub already serves", f"pid {hub.process.pid}")
        assert says(second.stderr, hub.base_url)

        hub.process.send_signal(signal.SIGKILL)
        hub.process.wait()
    finally:
        hub.stop()
    assert read_running_address(data_dir) == record  # a crash leaves the file behind
    after_crash = hub_cli("devices", "list", "--data-dir", str(data_dir))
    assert after_crash.returncode == 1
    assert says(after_crash.stderr, "no hub is running", "stale", hub.base_url)

    # A new hub, on any free port (0), replaces the stale file; a clean stop removes it.
    with (tmp_path / "second-hub.log").open("wb") as log:
        fresh = subprocess.Popen(
            serve_command(data_dir, 0), stdout=log, stderr=log, env={**cli_env(), **HUB_ENV}
        )
    try:
        replaced = wait_for_record(data_dir, fresh)
        assert replaced.port != 0 and replaced.port != record.port
        listed = hub_cli("devices", "list", "--data-dir", str(data_dir))
        assert listed.returncode == 0, listed.stderr
        fresh.terminate()
        assert fresh.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if fresh.poll() is None:
            fresh.kill()
            fresh.wait()
    assert not (data_dir / RUNNING_FILE_NAME).exists()
