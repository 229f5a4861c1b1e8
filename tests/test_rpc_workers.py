"""llama.cpp RPC: `hub worker` on loopback holds a model's layers; addresses stay home."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.diagnostics import check_models
from hub.engine.model_process import ModelProcess, ModelProcessError, ModelSpec
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.catalog import ModelCatalog, ModelCatalogError, RemoteModelError
from hub.models.remote_endpoint import RemoteEndpoint
from hub.rpc.ggml_rpc import RpcLibrary
from hub.rpc.worker_address import WorkerAddressError, parse_worker_address
from hub.settings import load_settings
from tests.conftest import DEFAULT_MODEL
from tests.hub_process import HubProcess, start_hub

GREEDY = SamplingParams(max_tokens=32, temperature=0.0, top_k=1)
QUESTION = [ChatMessage("user", "Name three colours of the rainbow.")]
WORKER_START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:50052", "127.0.0.1:50052"),
        ("192.168.1.30", "192.168.1.30:50052"),
        (" 10.0.0.7:6000 ", "10.0.0.7:6000"),
        ("169.254.3.4:7000", "169.254.3.4:7000"),
    ],
)
def test_home_network_addresses_are_accepted(given: str, expected: str) -> None:
    assert parse_worker_address(given) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("0.0.0.0:50052", "every interface"),
        ("8.8.8.8:50052", "not a home-network address"),
        ("224.0.0.1:50052", "not a home-network address"),
        ("desktop.local:50052", "not an IPv4 address"),
        ("[fe80::1]:50052", "IPv4 only"),
        ("192.168.1.30:0", "port"),
        ("192.168.1.30:99999", "port"),
        ("192.168.1.30:http", "port"),
    ],
)
def test_public_wildcard_and_malformed_addresses_are_refused(given: str, says: str) -> None:
    with pytest.raises(WorkerAddressError, match=says):
        parse_worker_address(given)


def test_a_model_keeps_its_workers_until_cleared_or_removed(tmp_path: Path) -> None:
    catalog = ModelCatalog(tmp_path)
    catalog.set_workers(DEFAULT_MODEL, ("127.0.0.1:50052", "192.168.1.30:50052"))
    assert ModelCatalog(tmp_path).get(DEFAULT_MODEL).workers == (
        "127.0.0.1:50052",
        "192.168.1.30:50052",
    )
    with pytest.raises(RemoteModelError, match="personalization trains on the whole model"):
        catalog.training_path(DEFAULT_MODEL)  # the nightly run refuses a split model
    catalog.set_workers(DEFAULT_MODEL, ())
    assert catalog.get(DEFAULT_MODEL).workers == ()
    assert catalog.training_path(DEFAULT_MODEL) == catalog.path_for(DEFAULT_MODEL)
    catalog.add_remote("gpu-box", RemoteEndpoint(url="http://192.168.1.20:8080/v1", model="m"))
    with pytest.raises(ModelCatalogError, match="remote engine"):
        catalog.set_workers("gpu-box", ("127.0.0.1:50052",))


def test_the_cli_lists_refuses_and_clears_workers(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    refused = runner.invoke(app, ["models", "workers", DEFAULT_MODEL, "8.8.8.8:50052", *data])
    assert refused.exit_code == 2 and "not a home-network address" in refused.output
    port = free_port()  # nothing listens there: kept, with a warning that says how to start it
    added = runner.invoke(app, ["models", "workers", DEFAULT_MODEL, f"127.0.0.1:{port}", *data])
    assert added.exit_code == 0, added.output
    assert "does not answer" in added.output and "hub worker --listen" in added.output
    shown = runner.invoke(app, ["models", "workers", DEFAULT_MODEL, *data])
    assert f"127.0.0.1:{port}" in shown.output
    listed = runner.invoke(app, ["models", "list", "--json", *data])
    assert f'"127.0.0.1:{port}"' in listed.output
    cleared = runner.invoke(app, ["models", "workers", DEFAULT_MODEL, "--clear", *data])
    assert cleared.exit_code == 0 and "this machine alone" in cleared.output
    assert ModelCatalog(tmp_path).get(DEFAULT_MODEL).workers == ()


@pytest.mark.parametrize("listen", ["0.0.0.0:50052", "8.8.8.8:50052"])
def test_a_worker_refuses_every_interface_and_public_addresses(listen: str) -> None:
    result = CliRunner().invoke(app, ["worker", "--listen", listen])
    assert result.exit_code == 2
    assert "every interface" in result.output or "home-network" in result.output


def test_this_llama_cpp_build_can_serve_and_use_workers() -> None:
    RpcLibrary().check()  # `make setup` builds llama.cpp with RPC; without it this says how


def start_worker(port: int, threads: int = 1) -> subprocess.Popen[bytes]:
    command = ["hub", "worker", "--listen", f"127.0.0.1:{port}", "--threads", str(threads)]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while not listens("127.0.0.1", port):
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        assert time.monotonic() < deadline, "the worker never listened"
        time.sleep(0.1)
    return process


@pytest.fixture(scope="module")
def worker_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    ports = (free_port(), free_port())
    processes = [start_worker(port) for port in ports]
    for process, port in zip(processes, ports, strict=True):
        process.address = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def workers(worker_processes: list[subprocess.Popen[bytes]]) -> tuple[str, ...]:
    return tuple(process.address for process in worker_processes)  # type: ignore[attr-defined]


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def spec_for(tmp_path: Path, workers: tuple[str, ...]) -> ModelSpec:
    catalog = ModelCatalog(tmp_path)
    path, info = catalog.path_for(DEFAULT_MODEL), catalog.info(DEFAULT_MODEL)
    return ModelSpec(DEFAULT_MODEL, path, info, 1024, 1, workers=workers)


def greedy_answer(spec: ModelSpec) -> tuple[str, int]:
    model = ModelProcess(spec)
    try:
        stats = GenerationStats()
        text = "".join(model.generate(model.render_chat(QUESTION), GREEDY, stats, lambda: False))
        return text, stats.completion_tokens
    finally:
        model.close()


@pytest.mark.slow
def test_a_worker_listens_only_on_the_address_it_was_given(workers: tuple[str, ...]) -> None:
    port = int(workers[0].rpartition(":")[2])
    assert listens("127.0.0.1", port)
    assert not listens("127.0.0.2", port)  # another address of this machine: nothing there


@pytest.mark.slow
def test_a_worker_that_is_down_fails_the_load_with_how_to_start_it(tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    with pytest.raises(ModelProcessError, match=f"worker at {down} does not answer"):
        greedy_answer(spec_for(tmp_path, (down,)))


@pytest.mark.slow
def test_a_worker_whose_port_is_taken_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "hub", "worker", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert "could not listen" in result.stdout and "port free" in result.stdout


def test_doctor_fails_when_the_active_models_worker_is_down(tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    ModelCatalog(tmp_path).set_workers(DEFAULT_MODEL, (down,))
    checks = {check.name: check for check in check_models(load_settings(data_dir=tmp_path))}
    worker = checks[f"model {DEFAULT_MODEL} (active) worker"]
    assert worker.status == "fail" and f"hub worker --listen {down}" in worker.detail


@pytest.mark.slow
def test_doctor_says_a_listening_worker_answers(tmp_path: Path, workers: tuple[str, ...]) -> None:
    ModelCatalog(tmp_path).set_workers(DEFAULT_MODEL, workers[:1])
    checks = {check.name: check for check in check_models(load_settings(data_dir=tmp_path))}
    assert checks[f"model {DEFAULT_MODEL} (active) worker"].status == "ok"


def hub_answer(hub: HubProcess) -> str:
    answer = httpx.post(
        f"{hub.base_url}/v1/chat/completions",
        headers=hub.headers(),
        json={
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": QUESTION[0].content}],
            "max_tokens": 32,
            "temperature": 0,
        },
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["choices"][0]["message"]["content"])


@pytest.mark.slow
def test_a_hub_serves_the_same_answers_with_the_models_layers_on_two_workers(
    tmp_path: Path, worker_processes: list[subprocess.Popen[bytes]], workers: tuple[str, ...]
) -> None:
    env = {"HUB_MEMORY_ENABLED": "false", "HUB_VOICE_ENABLED": "false", "HUB_THREADS": "1"}
    # A hub whose chosen model lists a worker that is down serves the packaged model alone
    # instead, and says which worker and how to start it; its answer is the one to match.
    catalog = ModelCatalog(tmp_path / "alone")
    catalog.add(catalog.path_for(DEFAULT_MODEL), "big")
    down = f"127.0.0.1:{free_port()}"
    catalog.set_workers("big", (down,))
    catalog.set_active("big")
    alone_hub = start_hub(tmp_path / "alone", env)
    try:
        active = httpx.get(f"{alone_hub.base_url}/v1/models/active", headers=alone_hub.headers())
        assert (active.json()["status"], active.json()["chosen"]) == ("fallback", "big")
        assert f"worker at {down} does not answer" in active.json()["reason"]
        alone = hub_answer(alone_hub)
    finally:
        alone_hub.stop()
    ModelCatalog(tmp_path / "split").set_workers(DEFAULT_MODEL, workers)
    before = [resident_mb(process.pid) for process in worker_processes]
    split_hub = start_hub(tmp_path / "split", env)
    try:
        assert hub_answer(split_hub) == alone and alone.strip()
        # Each worker holds a share of the layers (the whole file is about 100 MB).
        after = [resident_mb(process.pid) for process in worker_processes]
        assert all(a - b > 20 for a, b in zip(after, before, strict=True)), (before, after)
    finally:
        split_hub.stop()


@pytest.mark.slow
def test_garbage_from_a_stranger_does_not_take_a_worker_down(
    tmp_path: Path, workers: tuple[str, ...]
) -> None:
    host, _, port = workers[0].rpartition(":")
    for garbage in (b"\x00" * 9, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 64):
        with socket.create_connection((host, int(port)), timeout=5) as stranger:
            stranger.sendall(garbage)
    text, tokens = greedy_answer(spec_for(tmp_path, workers[:1]))
    assert text.strip() and tokens > 0
