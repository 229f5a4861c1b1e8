"""A model split across `hub worker`s over llama.cpp RPC on loopback, against the model alone.

What it measures, in one run with the same GGUF, prompt, threads and greedy sampling:

1. the model served alone by the hub's model process (no workers): the baseline;
2. every layer on one `hub worker` on 127.0.0.1 (the hub's process keeps only the token
   embeddings and the sampling);
3. the layers split between two `hub worker`s on 127.0.0.1.

For each: prompt evaluation and decode tokens per second (medians of interleaved rounds), the
ratio to the baseline, and whether the greedy tokens are the same as the baseline's.

The network cost: a decode step sends the next token's activations to the first worker and,
with two workers, from the first to the second (through the hub), and waits for each graph to
finish before the next token: one or more round trips per token on top of the same arithmetic.
On loopback a round trip costs tens of microseconds, but the workers share this box's CPU cores
with the hub and with each other, and the model is tiny, so the per-token fixed costs weigh
heavily; on real machines the gain is the memory of several boxes (a model too big for one),
not speed.

Run from the repository root (a quiet machine; it takes about a minute per round)::

    python bench/bench_rpc.py --rounds 3 --threads 2
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.engine.model_process import ModelProcess, ModelSpec
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME

PROMPT = [
    ChatMessage(
        "user",
        "Write a short story about a lighthouse keeper who finds a message in a bottle, "
        "with a beginning, a middle and an end.",
    )
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_NAME, help="a catalog model name")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per setup")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="threads of each process")
    return parser.parse_args(argv)


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_worker(threads: int) -> tuple[subprocess.Popen[bytes], str]:
    """Start `hub worker` on a free loopback port; return it once it listens."""
    port = free_port()
    command = [sys.executable, "-m", "hub", "worker", "--listen", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "--threads", str(threads)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the worker failed: {process.stderr.read()!r}") from None
            time.sleep(0.1)
    raise SystemExit("the worker never listened")


def measure(spec: ModelSpec, max_tokens: int) -> tuple[float, float, str]:
    """Load, answer once greedily; prompt and decode tokens/s and the answer's text."""
    model = ModelProcess(spec)
    try:
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, top_k=1)
        prompt = model.render_chat(PROMPT)
        stats = GenerationStats()
        started = time.perf_counter()
        first = 0.0
        pieces = []
        for piece in model.generate(prompt, params, stats, lambda: False):
            if not pieces:
                first = time.perf_counter()
            pieces.append(piece)
        ended = time.perf_counter()
        prompt_rate = stats.prompt_tokens / max(first - started, 1e-9)
        decode_rate = max(stats.completion_tokens - 1, 1) / max(ended - first, 1e-9)
        return prompt_rate, decode_rate, "".join(pieces)
    finally:
        model.close()


def main(argv: list[str] | None = None) -> int:
    """Run the three setups in interleaved rounds and print their rates and ratios."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        return run(args, ModelCatalog(Path(data_dir)))


def run(args: argparse.Namespace, catalog: ModelCatalog) -> int:
    """Measure with the model from ``catalog``."""
    path, info = catalog.path_for(args.model), catalog.info(args.model)
    workers = [start_worker(args.threads) for _ in range(2)]
    addresses = tuple(address for _, address in workers)
    setups = {"alone": (), "1 worker": addresses[:1], "2 workers": addresses}
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
    texts: dict[str, str] = {}
    try:
        for round_number in range(args.rounds):
            for name, chosen in setups.items():
                spec = ModelSpec(args.model, path, info, 2048, args.threads, workers=chosen)
                prompt_rate, decode_rate, text = measure(spec, args.max_tokens)
                rates[name].append((prompt_rate, decode_rate))
                texts.setdefault(name, text)
                print(f"round {round_number + 1} {name}: decode {decode_rate:.1f} tok/s")
    finally:
        for process, _ in workers:
            process.terminate()
            process.wait(timeout=30)
    base_prompt = statistics.median(r[0] for r in rates["alone"])
    base_decode = statistics.median(r[1] for r in rates["alone"])
    print(f"\n{args.model}, {args.threads} threads per process, {args.rounds} rounds (medians)")
    print(f"{'setup':<10} {'prompt tok/s':>13} {'decode tok/s':>13} {'ratio':>6}  same tokens")
    for name in setups:
        prompt_rate = statistics.median(r[0] for r in rates[name])
        decode_rate = statistics.median(r[1] for r in rates[name])
        same = "yes" if texts[name] == texts["alone"] else "NO"
        print(
            f"{name:<10} {prompt_rate:>13.1f} {decode_rate:>13.1f} "
            f"{decode_rate / base_decode:>6.2f}  {same}   (prompt {prompt_rate / base_prompt:.2f})"
        )
    return 0 if all(text == texts["alone"] for text in texts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
