"""A pulled model serves as fast as a packaged one: pull a GGUF through `hub models pull` from a
local model hub, then measure its decode rate through the hub against llama-cpp-python directly.

Steps, one command:

1. a model hub on 127.0.0.1 (the tests' server, which answers as the Hugging Face Hub does)
   offers a GGUF file (default: the packaged SmolLM2 135M; ``--file`` any other);
2. ``python -m hub models pull acme/Bench-GGUF`` fetches it into a temporary data directory with
   ``HF_ENDPOINT`` pointing at that server (download, sha256 check, catalog entry), timed;
3. ``bench/bench_serving.py --model <the pulled file>`` measures it: the same greedy chat along
   the hub's streaming API and an in-process ``llama_cpp.Llama``, interleaved rounds, medians
   (see that file for the fairness rules). Goal: decode ratio >= 0.95.

Run from the repository root::

    nice -n 19 python bench/bench_pull.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository's root: bench_serving and the tests' model hub server.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_serving
from hub.models.packaged import locate_smollm2
from tests.model_hub_server import HostedFile, ModelHubServer

REPO = "acme/Bench-GGUF"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None, help="GGUF to offer (default: SmolLM2)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per path")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def pull(server: ModelHubServer, data_dir: Path) -> tuple[Path, float]:
    """Run `hub models pull` against ``server``; the pulled file and the seconds it took."""
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "HUB_DATA_DIR"}}
    env |= {"HF_ENDPOINT": server.url, "HF_HOME": str(data_dir.parent / "hf-home")}
    command = [sys.executable, "-m", "hub", "models", "pull", REPO, "--progress-json"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    last = json.loads(done.stdout.strip().splitlines()[-1])
    if done.returncode != 0 or "path" not in last:
        raise SystemExit(f"pull failed: {last.get('error')}\n{done.stderr[-2000:]}")
    return Path(last["path"]), seconds


def main(argv: list[str] | None = None) -> int:
    """Pull, then run bench_serving on the pulled file and print the ratio."""
    args = parse_args(argv)
    source = args.file or locate_smollm2(Path())
    server = ModelHubServer()
    server.repos[REPO] = {source.name: HostedFile(source)}
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pull-") as folder:
            path, seconds = pull(server, Path(folder) / "data")
            size = path.stat().st_size
            print(
                f"pulled {path.name}: {size / 1e6:.0f} MB in {seconds:.1f} s "
                f"({size / 1e6 / seconds:.0f} MB/s with the sha256 check), from {server.url}"
            )
            serving_args = ["--model", str(path), "--rounds", str(args.rounds), "--json"]
            serving_args += ["--max-tokens", str(args.max_tokens), "--threads", str(args.threads)]
            parsed = bench_serving.parse_args(serving_args)
            result = bench_serving.run_benchmark(parsed, bench_serving.Console(stderr=True))
    finally:
        server.stop()
    summary = bench_serving.summarize(result["samples"])
    ratio = summary["decode_ratio_hub_over_direct"]
    print(
        f"pulled model decode: hub {summary['decode_tps_hub']:.1f} tokens/s, "
        f"llama-cpp-python {summary['decode_tps_direct']:.1f} tokens/s, "
        f"ratio {ratio:.3f} (goal >= {bench_serving.GOAL_RATIO}); TTFT overhead "
        f"{summary['ttft_overhead_ms_median']:.1f} ms"
    )
    return 0 if summary["ratio_goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
