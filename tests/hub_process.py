"""Start a real hub in a child process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HubProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path

    @property
    def token(self) -> str:
        return (self.data_dir / "owner_token").read_text().strip()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _embedder_ready(hub: HubProcess) -> bool:
    """Memory's embedding model loads after /health answers: tests that chat about memories
    expect it, so they start once it has (or when memory is off)."""
    answer = httpx.get(f"{hub.base_url}/v1/memory/status", headers=hub.headers(), timeout=5)
    return answer.status_code != 200 or bool(answer.json().get("embedder_ready", True))


def start_hub(
    data_dir: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> HubProcess:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"hub-{port}.log"
    # Background fact extraction competes for the 2 cores with whatever the test is doing; tests
    # that check it turn it back on.
    # mDNS stays on loopback in tests.
    defaults = {
        "HUB_CONTEXT_LENGTH": "2048",
        "HUB_MEMORY_EXTRACT_FACTS": "false",
        "HUB_MDNS_INTERFACES": "127.0.0.1",
        # The Wyoming speech service's fixed port is left alone; voice tests pick a free one.
        "HUB_WYOMING_SERVER_PORT": "0",
    }
    full_env = {**os.environ, **defaults, **(env or {})}
    full_env.pop("HUB_DATA_DIR", None)
    command = [
        sys.executable,
        "-m",
        "hub",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    hub = HubProcess(process, f"http://127.0.0.1:{port}", data_dir, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub exited with {process.returncode}:\n{hub.log()}")
        try:
            if httpx.get(f"{hub.base_url}/health", timeout=1).status_code == 200 and (
                _embedder_ready(hub)
            ):
                return hub
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    hub.stop()
    raise RuntimeError(f"hub did not become healthy in {timeout} s:\n{hub.log()}")
