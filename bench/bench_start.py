"""How fast a real hub starts, at each memory size, against loading its two models bare.

For each size a data directory is filled once (kept under --root for the next run) through the
memory store itself, with seeded synthetic 384-d vectors under the packaged embedder's name (so
the hub does not re-embed them), and its HNSW index built and saved as a running hub leaves it.
Then `hub serve` is started as a subprocess and timed, from the moment it is spawned:
  - /health: the first 200 from GET /health
  - chat: the first answer to POST /v1/chat/completions (sent as soon as /health answers)
  - memory: the first GET /v1/memory/status that says the embedding model is loaded (memory
    search ready; it loads in the background while the hub serves)
  - RSS: the hub's resident memory then (the model's child process not counted), and the
    model process's
Baseline, in the same run: a bare process that imports llama-cpp-python and loads the same
model file, then sentence-transformers and the same embedding model, one after the other (what
the hub used to do before answering), timed from its spawn to both loaded.

    .venv/bin/python bench/bench_start.py [--sizes 0 100000] [--runs 3] [--root DIR]

Goal (issue 20): the first chat within 5 s of starting at any memory size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_memory import DIM, SEED, embedding_like
from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME
from memory.embedder import PACKAGED_MODEL_NAME, Vectors, packaged_model_dir
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
from memory.types import NewMemory

BATCH = 20_000
TIMEOUT_S = 300.0


class SyntheticEmbedder:
    """Row ``n`` of a seeded matrix for "item n ..." texts; any other text (a query) hashed to
    a seeded row. Named as the packaged model, so the hub takes the vectors as its own."""

    name = PACKAGED_MODEL_NAME
    dimension = DIM

    def __init__(self, data: Vectors) -> None:
        self.data = data

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Each text's row."""
        rows = [int(text.split(" ", 2)[1]) for text in texts]
        return self.data[rows]


def fill(data_dir: Path, size: int) -> None:
    """Store ``size`` memories in the data directory and save their index, once."""
    done = data_dir / "bench-filled"
    if done.exists() and done.read_text() == str(size):
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED + size)
    data = embedding_like(rng, size) if size else np.zeros((0, DIM), dtype=np.float32)
    words = np.array([f"w{n}" for n in range(2000)])
    store = SqliteMemoryStore(
        data_dir / MEMORY_DB_NAME, SyntheticEmbedder(data), exact_limit=size + 1
    )
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        picked = words[rng.integers(0, len(words), (min(BATCH, size - start), 8))]
        store.add_many(
            [NewMemory(f"item {start + n} " + " ".join(row)) for n, row in enumerate(picked)]
        )
    store.close()
    # Reopened with the usual limit: the graph is built and saved as a running hub saves it.
    store = SqliteMemoryStore(data_dir / MEMORY_DB_NAME, SyntheticEmbedder(data))
    store.wait_for_index()
    store.checkpoint()
    store.close()
    print(f"  filled {size} memories in {time.perf_counter() - started:.0f} s", flush=True)
    done.write_text(str(size))


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def time_hub(data_dir: Path, log: Path) -> dict[str, float]:
    """Start `hub serve` on the data directory and time /health and the first chat answer."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_MDNS_ENABLED": "false"}
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            health = wait_for_health(process, base, started)
            token = (data_dir / "owner_token").read_text().strip()
            answer = httpx.post(
                f"{base}/v1/chat/completions",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "model": DEFAULT_MODEL_NAME,
                    "messages": [{"role": "user", "content": "Say hello."}],
                    "max_tokens": 8,
                },
                timeout=TIMEOUT_S,
            )
            chat = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"chat answered {answer.status_code}: {answer.text[:300]}")
            memory = wait_for_memory(base, token, started)
            hub_rss = rss_mb(process.pid)
            model_rss = sum(rss_mb(child) for child in children(process.pid))
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {
        "health_s": health,
        "chat_s": chat,
        "memory_s": memory,
        "hub_mb": hub_rss,
        "model_mb": model_rss,
    }


def wait_for_health(process: subprocess.Popen[bytes], base: str, started: float) -> float:
    """Seconds from ``started`` to the first 200 from /health."""
    while time.perf_counter() - started < TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError("the hub exited before answering /health; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"the hub did not answer /health in {TIMEOUT_S:.0f} s")


def wait_for_memory(base: str, token: str, started: float) -> float:
    """Seconds from ``started`` until memory search is ready (the embedding model loaded)."""
    while time.perf_counter() - started < TIMEOUT_S:
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(
                f"{base}/v1/memory/status",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            if status.status_code == 200 and status.json()["embedder_ready"]:
                return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError(f"the embedding model did not load in {TIMEOUT_S:.0f} s")


BARE = """
import sys
from llama_cpp import Llama
Llama(model_path=sys.argv[1], n_ctx=2048, verbose=False)
from sentence_transformers import SentenceTransformer
SentenceTransformer(sys.argv[2], device="cpu").encode(["Say hello."])
"""


def time_bare(model_path: Path) -> float:
    """Seconds for a bare process to load the chat model and the embedder, from its spawn."""
    started = time.perf_counter()
    command = [sys.executable, "-c", BARE, str(model_path), str(packaged_model_dir())]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 100_000])
    parser.add_argument("--runs", type=int, default=3, help="starts per size (median shown)")
    parser.add_argument("--root", type=Path, help="keep the filled data directories here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as scratch:
        root = args.root or Path(scratch)
        model_path = ModelCatalog(root / "catalog").path_for(DEFAULT_MODEL_NAME)
        print(f"start benchmark: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        bare = statistics.median(time_bare(model_path) for _ in range(args.runs))
        print(
            f"bare: import llama-cpp-python + load {DEFAULT_MODEL_NAME}, then "
            f"sentence-transformers + {PACKAGED_MODEL_NAME}: {bare:.1f} s",
            flush=True,
        )
        print(
            f"{'items':>8} {'/health s':>9} {'chat s':>6} {'chat/bare':>9} "
            f"{'memory s':>8} {'memory/bare':>11} {'hub MB':>6} {'model MB':>8}",
            flush=True,
        )
        for size in args.sizes:
            data_dir = root / f"hub-{size}"
            fill(data_dir, size)
            runs = [time_hub(data_dir, root / f"hub-{size}.log") for _ in range(args.runs)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"{size:>8} {median['health_s']:>9.1f} {median['chat_s']:>6.1f} "
                f"{median['chat_s'] / bare:>9.2f} {median['memory_s']:>8.1f} "
                f"{median['memory_s'] / bare:>11.2f} {median['hub_mb']:>6.0f} "
                f"{median['model_mb']:>8.0f}",
                flush=True,
            )
        print(json.dumps({"load_after": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
