"""Streaming through the Ollama API (/api/chat, NDJSON) against the OpenAI API
(/v1/chat/completions, SSE): the decode rate a client sees on each path.

One run starts a real hub (``python -m hub serve`` on a free loopback port, a temporary data
directory, memory and mDNS off so both paths get the same prompt), makes a client credential
with the ``chat`` scope, and asks the same greedy question ``--rounds`` times on each path,
alternating which goes first so other load on a shared machine hits both alike. /api/chat is
called through the credential in the URL (``/c/<credential>/``), as Home Assistant calls it.

Measured on the client for both: decode tokens/s is ``(completion tokens - 1) / (arrival of the
last line or event - arrival of the first text)``; completion tokens are the hub's own count
(``eval_count``, ``usage.completion_tokens``). The round number ends the question so no answer
comes from a cached prompt. Goal: /api/chat keeps >= 0.95 of /v1/chat/completions' rate (the
median of the rounds' ratios).

    .venv/bin/python bench/bench_ollama.py [--rounds 7] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MODEL = "smollm2-135m-instruct"
QUESTION = "Tell me a long story about a lighthouse keeper and a storm. Version {n}."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real hub on a free loopback port; returns the process and its URL once healthy."""
    port = free_port()
    env = {**os.environ, "HUB_MEMORY_ENABLED": "false", "HUB_MDNS_ENABLED": "false"}
    env.update({"HUB_VOICE_ENABLED": "false", "HUB_PERSONALIZE_ENABLED": "false"})
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("the hub did not become healthy in 180 s")


def rate(tokens: int, first: float | None, last: float) -> float:
    """Client-side decode tokens/s."""
    return (tokens - 1) / (last - first) if first is not None and last > first else 0.0


def openai_round(client: httpx.Client, n: int, max_tokens: int) -> float:
    """One streamed /v1/chat/completions answer: its client-side decode rate."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": QUESTION.format(n=n)}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "max_tokens": max_tokens,
    }
    first, last, tokens = None, 0.0, 0
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            for choice in event.get("choices", []):
                if choice["delta"].get("content") and first is None:
                    first = time.perf_counter()
                if choice.get("finish_reason"):
                    last = time.perf_counter()
    return rate(tokens, first, last)


def ollama_round(client: httpx.Client, n: int, max_tokens: int) -> float:
    """One streamed /api/chat answer: its client-side decode rate."""
    body = {
        "model": f"{MODEL}:latest",
        "messages": [{"role": "user", "content": QUESTION.format(n=n)}],
        "options": {"temperature": 0, "num_predict": max_tokens},
    }
    first, last, tokens = None, 0.0, 0
    with client.stream("POST", "/api/chat", json=body) as response:
        for line in response.iter_lines():
            part = json.loads(line)
            if part["message"]["content"] and first is None:
                first = time.perf_counter()
            if part["done"]:
                last, tokens = time.perf_counter(), part["eval_count"]
    return rate(tokens, first, last)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        process, url = start_hub(data_dir)
        try:
            token = (data_dir / "owner_token").read_text().strip()
            owner = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
            made = owner.post("/v1/clients", json={"name": "bench", "scopes": ["chat"]}).json()
            timeout = httpx.Timeout(300.0)
            openai = httpx.Client(base_url=url, headers=owner.headers, timeout=timeout)
            ollama = httpx.Client(base_url=f"{url}/c/{made['credential']}", timeout=timeout)
            openai_round(openai, -1, args.max_tokens)  # warm-up, not counted
            ollama_round(ollama, -2, args.max_tokens)
            ratios, rates_openai, rates_ollama = [], [], []
            for n in range(args.rounds):
                pair = [("openai", openai_round, openai), ("ollama", ollama_round, ollama)]
                seen: dict[str, float] = {}
                for name, run, client in pair if n % 2 == 0 else reversed(pair):
                    seen[name] = run(client, n, args.max_tokens)
                rates_openai.append(seen["openai"])
                rates_ollama.append(seen["ollama"])
                ratios.append(seen["ollama"] / seen["openai"] if seen["openai"] else 0.0)
                print(
                    f"round {n + 1}: /v1 {seen['openai']:.1f} tok/s, "
                    f"/api/chat {seen['ollama']:.1f} tok/s, ratio {ratios[-1]:.3f}"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)
    median = statistics.median(ratios)
    print(
        f"median decode tokens/s: /v1/chat/completions {statistics.median(rates_openai):.1f}, "
        f"/api/chat {statistics.median(rates_ollama):.1f}; median ratio {median:.3f} "
        f"(goal >= 0.95: {'met' if median >= 0.95 else 'NOT met'})"
    )
    return 0 if median >= 0.95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
