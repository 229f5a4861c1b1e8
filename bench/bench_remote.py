"""The hub in front of a remote engine costs next to nothing: time to first token and decode
rate through the hub (the engine added with `hub models add-remote`) against the same engine
asked directly, both on loopback.

The engine: a small OpenAI-compatible server in its own process (``--serve-engine``), raw
llama-cpp-python behind ``POST /v1/chat/completions``, one server-sent event per token as
llama-server sends them; the model's chat template renders the messages. The hub: a real hub
subprocess (memory off, so the prompt is the same) whose active model is that engine.

Both paths are measured on the client, the same way: TTFT from sending the request to the first
non-empty piece; decode tokens/s = (pieces - 1) / (last piece - first piece). Rounds alternate
which path goes first; the round and the path at the end of the user message make every prompt
new (the engine reuses the shared prefix of the previous one for both paths alike).
Medians over the rounds; the TTFT overhead is the median of per-round differences.
Goals: overhead <= 15 ms, decode ratio >= 0.95. The engine has one thread by default: a real
remote engine runs on another machine, and on this 2-core one it must leave the others a core.

Run from the repository root::

    nice -n 19 python bench/bench_remote.py --rounds 7
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME, locate_smollm2
from hub.models.remote_endpoint import RemoteEndpoint
from tests.hub_process import free_port

GOAL_RATIO = 0.95
GOAL_OVERHEAD_MS = 15.0
SYSTEM = "You are a storyteller. Write long, detailed stories."
USER = "Tell me a long story about a lighthouse keeper and a storm, in many paragraphs."


def serve_engine(port: int, threads: int) -> None:
    """The engine process: raw llama-cpp-python behind OpenAI's streaming chat endpoint."""
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from hub.models.gguf_info import read_gguf_info

    path = locate_smollm2(Path())
    info = read_gguf_info(path)
    llm = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        verbose=False,
    )
    assert info.chat_template is not None
    formatter = Jinja2ChatFormatter(info.chat_template, info.eos_token or "", info.bos_token or "")
    vocab = llm._model.vocab
    generating = threading.Lock()

    class Engine(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # a token per write: do not wait to batch them

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"object": "list", "data": [{"id": "engine"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with generating:
                self.answer(request)

        def answer(self, request: dict[str, Any]) -> None:
            """Stream one chat answer, a server-sent event per token."""
            rendered = formatter(messages=request["messages"]).prompt
            tokens = llm.tokenize(rendered.encode(), add_bos=False, special=True)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            sampled = llm.generate(
                tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0
            )
            count = 0
            for token in sampled:
                if llama_cpp.llama_vocab_is_eog(vocab, token) or count >= request["max_tokens"]:
                    break
                count += 1
                text = decoder.decode(llm.detokenize([token]))
                if text:
                    self.chunk({"choices": [{"index": 0, "delta": {"content": text}}]})
            sampled.close()
            self.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.chunk({"choices": [], "usage": {"completion_tokens": count}})
            self.write(b"data: [DONE]\n\n")
            self.write(b"")

        def chunk(self, data: dict[str, Any]) -> None:
            self.write(b"data: " + json.dumps(data).encode() + b"\n\n")

        def write(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    # A thread per connection (clients keep theirs open, as llama-server allows), one
    # generation at a time (the lock), as llama-server with one slot.
    ThreadingHTTPServer(("127.0.0.1", port), Engine).serve_forever()


def measure(
    client: httpx.Client, url: str, model: str, label: str, max_tokens: int
) -> dict[str, float]:
    """One streamed chat; TTFT in ms and decode tokens/s, on the client."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{USER} ({label})"},
    ]
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    stamps: list[float] = []
    tokens = 0
    with client.stream("POST", url, json=body) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            tokens = (event.get("usage") or {}).get("completion_tokens") or tokens
            choices = event.get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                stamps.append(time.perf_counter())
    # Tokens, not pieces: the hub may hand several tokens on in one event.
    decode = (tokens - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 else 0.0
    return {"ttft_ms": (stamps[0] - started) * 1000, "decode_tps": decode, "pieces": tokens}


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def main(argv: list[str] | None = None) -> int:
    """Start the engine and a hub in front of it, measure both paths, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=128)
    # One engine thread by default: on a 2-core box two would leave the hub and the client no
    # core, and either path then collapses at random (6.6 to 82 tokens/s between runs).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--serve-engine", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_engine is not None:
        serve_engine(args.serve_engine, args.threads)
        return 0
    engine_port, hub_port = free_port(), free_port()
    engine_url = f"http://127.0.0.1:{engine_port}/v1"
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
        data = Path(folder) / "data"
        catalog = ModelCatalog(data)
        catalog.add_remote("engine", RemoteEndpoint(engine_url, "engine", None, DEFAULT_MODEL_NAME))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {"HUB_MODEL": "engine", "HUB_MEMORY_ENABLED": "false", "HUB_VOICE_ENABLED": "false"}
        env |= {"HUB_MDNS_ENABLED": "false", "HUB_PERSONALIZE_ENABLED": "false"}
        try:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--serve-engine",
                        str(engine_port),
                        "--threads",
                        str(args.threads),
                    ],
                )
            )
            wait_until_up(f"{engine_url}/models", processes[0])
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "hub",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(hub_port),
                        "--data-dir",
                        str(data),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            hub_url = f"http://127.0.0.1:{hub_port}"
            wait_until_up(f"{hub_url}/health", processes[1])
            token = (data / "owner_token").read_text().strip()
            paths = {
                "direct": (httpx.Client(timeout=300), f"{engine_url}/chat/completions", "engine"),
                "hub": (
                    httpx.Client(timeout=300, headers={"Authorization": f"Bearer {token}"}),
                    f"{hub_url}/v1/chat/completions",
                    "engine",
                ),
            }
            results: dict[str, list[dict[str, float]]] = {"direct": [], "hub": []}
            for name, (client, url, model) in paths.items():  # warm-up
                measure(client, url, model, f"warm {name}", args.max_tokens)
            for number in range(1, args.rounds + 1):
                order = ["direct", "hub"] if number % 2 else ["hub", "direct"]
                for name in order:
                    client, url, model = paths[name]
                    results[name].append(
                        measure(client, url, model, f"round {number} {name}", args.max_tokens)
                    )
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=30)
    direct, hub = results["direct"], results["hub"]
    ratio = statistics.median(h["decode_tps"] for h in hub) / statistics.median(
        d["decode_tps"] for d in direct
    )
    overhead = statistics.median(
        h["ttft_ms"] - d["ttft_ms"] for h, d in zip(hub, direct, strict=True)
    )
    print(f"rounds {args.rounds}, {args.max_tokens} tokens, {args.threads} engine threads")
    for name, rows in results.items():
        print(
            f"  {name:6} TTFT median {statistics.median(r['ttft_ms'] for r in rows):6.1f} ms, "
            f"decode median {statistics.median(r['decode_tps'] for r in rows):6.1f} tokens/s, "
            f"pieces {[int(r['pieces']) for r in rows]}"
        )
    print(
        f"remote engine through the hub: TTFT overhead {overhead:.1f} ms (goal <= "
        f"{GOAL_OVERHEAD_MS:.0f}), decode ratio {ratio:.3f} (goal >= {GOAL_RATIO})"
    )
    return 0 if ratio >= GOAL_RATIO and overhead <= GOAL_OVERHEAD_MS else 1


if __name__ == "__main__":
    sys.exit(main())
