"""What opening the memory store costs a hub's start, at each memory size.

Opens the SqliteMemoryStore of a data directory filled by bench_start.py (the same seeded
memories and saved HNSW index) as the hub does (open, then the background check for
re-embedding), and measures, from the open:
  - open ms: the constructor (on the hub's main thread, before the model starts loading)
  - lock wait ms: how long a caller then waits for the store's lock (housekeeping's start
    does, before the model starts loading)
  - background ms: until the re-embedding check and any index fold are done
  - cpu ms: this process's CPU time over all of it; written MB: bytes it wrote to disk

    .venv/bin/python bench/bench_store_open.py [--sizes 0 100000] [--runs 3] [--root DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_start import fill
from memory.embedder import PACKAGED_MODEL_DIMENSION, PACKAGED_MODEL_NAME, Vectors
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore


class NoEmbedder:
    """The packaged model's name and size (so the store keeps its vectors); never embeds."""

    name = PACKAGED_MODEL_NAME
    dimension = PACKAGED_MODEL_DIMENSION

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Opening embeds nothing."""
        raise RuntimeError("opening the store should embed nothing")


def written_bytes() -> int:
    """Bytes this process has caused to be written to disk."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def time_open(path: Path) -> dict[str, float]:
    """Open the store as a hub does and time each part."""
    written, cpu, started = written_bytes(), time.process_time(), time.perf_counter()
    store = SqliteMemoryStore(path, NoEmbedder())
    store.start_reembedding()
    opened = time.perf_counter()
    with store._lock:
        locked = time.perf_counter()
    if store._reembed_thread is not None:
        store._reembed_thread.join()
    store.wait_for_index()
    done = time.perf_counter()
    result = {
        "open_ms": 1000 * (opened - started),
        "lock_ms": 1000 * (locked - opened),
        "background_ms": 1000 * (done - started),
        "cpu_ms": 1000 * (time.process_time() - cpu),
        "written_mb": (written_bytes() - written) / 1e6,
    }
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 100_000])
    parser.add_argument("--runs", type=int, default=3, help="opens per size (median shown)")
    parser.add_argument("--root", type=Path, help="bench_start.py's filled data directories")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or Path(scratch)
        print(
            f"{'items':>8} {'open ms':>7} {'lock wait ms':>12} {'background ms':>13} "
            f"{'cpu ms':>6} {'written MB':>10}"
        )
        for size in args.sizes:
            data_dir = root / f"hub-{size}"
            fill(data_dir, size)
            runs = [time_open(data_dir / MEMORY_DB_NAME) for _ in range(args.runs)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"{size:>8} {median['open_ms']:>7.0f} {median['lock_ms']:>12.0f} "
                f"{median['background_ms']:>13.0f} {median['cpu_ms']:>6.0f} "
                f"{median['written_mb']:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
