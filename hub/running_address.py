"""The running hub's address file: where `hub serve` listens, left in its data directory."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memory.durable_files import write_atomically

RUNNING_FILE_NAME = "hub.running.json"
PROC = Path("/proc")
WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def running_file(data_dir: Path) -> Path:
    """Where a running hub records its address."""
    return data_dir / RUNNING_FILE_NAME


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for ``host:port`` (a wildcard address: loopback)."""
    host = WILDCARD_HOSTS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def process_start_time(pid: int, proc: Path = PROC) -> int | None:
    """When process ``pid`` started (clock ticks since boot); None when it is gone or a zombie."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] in ("Z", "X") or not fields[19].isdigit():
        return None
    return int(fields[19])


@dataclass(frozen=True)
class RunningAddress:
    """What a running `hub serve` leaves in its data directory."""

    pid: int
    # With the pid, tells the hub apart from a later process given the same pid (after a reboot).
    process_started: int
    host: str
    port: int
    url: str
    started_at: str

    @classmethod
    def of_this_process(cls, host: str, port: int, proc: Path = PROC) -> RunningAddress:
        """The record for this process, listening on ``host:port``."""
        pid = os.getpid()
        return cls(
            pid=pid,
            process_started=process_start_time(pid, proc) or 0,
            host=host,
            port=port,
            url=local_url(host, port),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def from_json(cls, data: Any) -> RunningAddress:
        """Parse the file's content; ValueError when it is not a record."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        types = {"pid": int, "process_started": int, "host": str, "port": int}
        types |= {"url": str, "started_at": str}
        for name, kind in types.items():
            if not isinstance(data.get(name), kind):
                raise ValueError(f"{name} is missing or not {kind.__name__}")
        return cls(**{name: data[name] for name in types})

    def is_alive(self, proc: Path = PROC) -> bool:
        """True while the process that wrote the record still runs."""
        return process_start_time(self.pid, proc) == self.process_started


def write_running_address(data_dir: Path, address: RunningAddress) -> Path:
    """Record ``address`` (owner-only, atomically: a reader sees the old file or the new one)."""
    path = running_file(data_dir)
    write_atomically(path, json.dumps(asdict(address), indent=2) + "\n")
    return path


def read_running_address(data_dir: Path) -> RunningAddress | None:
    """The recorded address, or None when there is none (or it cannot be read)."""
    try:
        text = running_file(data_dir).read_text(encoding="utf-8")
        return RunningAddress.from_json(json.loads(text))
    except (OSError, ValueError):
        return None


def remove_running_address(data_dir: Path, pid: int | None = None) -> None:
    """Remove the record if process ``pid`` (default: this one) wrote it."""
    record = read_running_address(data_dir)
    if record is not None and record.pid == (os.getpid() if pid is None else pid):
        running_file(data_dir).unlink(missing_ok=True)
