"""A small OpenAI-compatible server on 127.0.0.1 (GET /v1/models, POST /v1/chat/completions
and /v1/completions, streamed as server-sent events the way OpenAI documents them), which
records every request it gets. Its answer is scripted, or comes from ``answer_with``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


def scripted(words: list[str]) -> Callable[[dict[str, Any]], Iterator[str]]:
    """An answer that is always ``words``."""

    def answer(body: dict[str, Any]) -> Iterator[str]:
        yield from words

    return answer


@dataclass
class OpenAIServer:
    """Serves one model name; ``port`` 0 picks a free one (kept across restarts)."""

    model: str = "household-gpu-model"
    api_key: str | None = None
    answer_with: Callable[[dict[str, Any]], Iterator[str]] = field(
        default_factory=lambda: scripted(["Hello", " from", " the", " GPU", " box."])
    )
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def refuse(self) -> bool:
                wanted = f"Bearer {owner.api_key}" if owner.api_key else None
                if wanted is None or self.headers.get("Authorization") == wanted:
                    return False
                self.send_json(401, {"error": {"message": "bad key"}})
                return True

            def send_json(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                owner.seen.append(Seen("GET", self.path, dict(self.headers), None))
                if self.refuse():
                    return
                if self.path == "/v1/models":
                    data = [{"id": owner.model, "object": "model", "owned_by": "me"}]
                    self.send_json(200, {"object": "list", "data": data})
                else:
                    self.send_json(404, {"error": {"message": "no such route"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.seen.append(Seen("POST", self.path, dict(self.headers), body))
                if self.refuse():
                    return
                chat = self.path == "/v1/chat/completions"
                if not chat and self.path != "/v1/completions":
                    self.send_json(404, {"error": {"message": "no such route"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                made = int(time.time())
                count = 0
                for word in owner.answer_with(body):
                    count += 1
                    choice: dict[str, Any] = {"index": 0, "finish_reason": None}
                    choice |= {"delta": {"content": word}} if chat else {"text": word}
                    self.event(
                        {
                            "id": "x",
                            "created": made,
                            "model": owner.model,
                            "object": "chat.completion.chunk",
                            "choices": [choice],
                        }
                    )
                last = {"index": 0, "finish_reason": "stop"} | (
                    {"delta": {}} if chat else {"text": ""}
                )
                self.event({"id": "x", "created": made, "model": owner.model, "choices": [last]})
                self.event(
                    {
                        "id": "x",
                        "created": made,
                        "model": owner.model,
                        "choices": [],
                        "usage": {"completion_tokens": count, "prompt_tokens": 1},
                    }
                )
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def event(self, data: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
