"""A real hub in a child process on a free loopback port, and the few public HTTP calls the
evaluation makes to it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HEALTH_TIMEOUT_S = 240.0
REQUEST_TIMEOUT_S = 600.0
PR_SET_PDEATHSIG = 1
# Settings that keep a benchmark hub to itself: no mDNS adverts, no fixed Wyoming port that
# another hub on the machine may hold, and no nightly run of its own at 03:00 (runs are
# started through the API when the benchmark wants one).
ISOLATION = {
    "HUB_MDNS_ENABLED": "false",
    "HUB_WYOMING_SERVER_PORT": "0",
    "HUB_PERSONALIZE_ENABLED": "false",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies without cleaning up (Linux only)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no hub log)"


@dataclass(frozen=True)
class HubOptions:
    """How to start every hub of a run: the model and extra settings (``HUB_*`` variables)."""

    model: str | None
    settings: dict[str, str]


class HubClient:
    """The public HTTP API of one running hub, with the owner's token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=10.0),
        )
        self.model = str(self.get("/v1/models/active")["model"])

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def get(self, path: str) -> dict[str, Any]:
        """GET a JSON document; a 4xx or 5xx raises with the hub's message."""
        return self._checked(self.http.get(path))

    def post(
        self, path: str, body: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """POST JSON and read the JSON answer."""
        wait = httpx.Timeout(timeout, connect=10.0) if timeout else self.http.timeout
        return self._checked(self.http.post(path, json=body, timeout=wait))

    @staticmethod
    def _checked(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        data: dict[str, Any] = response.json()
        return data

    def add_memories(self, items: list[dict[str, Any]]) -> list[str]:
        """Store memories in one batch; their ids in order."""
        return [str(i) for i in self.post("/v1/memory/batch", {"items": items})["ids"]]

    def memory_count(self) -> int:
        """How many memories the hub holds."""
        return int(self.get("/v1/memory/status")["items"])

    def search(self, query: str, k: int) -> list[dict[str, Any]]:
        """Hybrid memory search, as a person's query."""
        return list(self.post("/v1/memory/search", {"query": query, "k": k})["results"])

    def ask(self, question: str, seed: int, max_tokens: int | None) -> dict[str, Any]:
        """One chat turn with the question alone, greedy; the whole answer document."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": question}],
            "temperature": 0,
            "seed": seed,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return self.post("/v1/chat/completions", body)


@contextlib.contextmanager
def running_hub(
    data_dir: Path, options: HubOptions, memory: bool, log_path: Path
) -> Iterator[HubClient]:
    """Start ``python -m hub serve`` on a free port with this data directory; stop it on exit."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= ISOLATION | options.settings
    env["HUB_MEMORY_ENABLED"] = "true" if memory else "false"
    if options.model:
        env["HUB_MODEL"] = options.model
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # safe: the benchmark starts no threads of its own
        )
    client: HubClient | None = None
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(process, base_url, log_path)
        token = (data_dir / "owner_token").read_text().strip()
        client = HubClient(base_url, token)
        yield client
    finally:
        if client is not None:
            client.close()
        _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the hub exited with code {process.returncode}:\n{_log_tail(log_path)}"
            )
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"the hub was not healthy within {HEALTH_TIMEOUT_S:.0f} s:\n{_log_tail(log_path)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
