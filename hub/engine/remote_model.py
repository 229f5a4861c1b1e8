"""RemoteChatModel: a model served by an OpenAI-compatible server on the home network
(llama-server, Ollama, vLLM on the household's GPU box).

The hub keeps everything else: memory and retrieval run here, and what goes out is the prompt
the hub built (with any notes it retrieved), to the one address the person added, with the key
they gave for that server; never the hub's own tokens. Redirects are not followed, so the
server cannot send the prompt on to another address.

Each request opens its stream before the runner commits to this model (``connect``): a server
that refuses the connection, times out or answers with an error costs no extra round trip when
it is up, and when it is down the runner answers with the local fallback model instead, saying
so in the answer's model name. A server found down is not tried again for ``DOWN_RETRY_S``, so
a machine that is switched off does not cost every request a connect timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams
from hub.errors import HubError
from hub.models.remote_endpoint import RemoteEndpoint

logger = logging.getLogger(__name__)

DOWN_RETRY_S = 5.0  # a server found down is tried again after this long
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 300.0  # a long prompt on a busy GPU box may take minutes to start
CHARS_PER_TOKEN = 3.5  # to budget the context without the server's tokenizer
BATCH_S = 0.03  # pieces after the first are handed on this often (see model_process)


class RemoteEngineError(HubError, RuntimeError):
    """The remote engine failed or answered something that is not OpenAI's format."""

    http_status = 502
    error_code = "remote_engine_failed"
    error_type = "server_error"


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens ``text`` is, for budgeting only."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


class RemoteChatModel:
    """A ChatModel whose tokens come from a remote OpenAI-compatible server."""

    def __init__(
        self,
        name: str,
        endpoint: RemoteEndpoint,
        fallback: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.fallback = fallback
        self.context_length = endpoint.context_length
        self._clock = clock
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._http = httpx.Client(
            base_url=endpoint.url.rstrip("/"),
            headers=headers,
            follow_redirects=False,
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            trust_env=False,  # a proxy from the environment is not an address the person added
        )
        self._lock = threading.Lock()
        self._down_at: float | None = None
        # The stream ``connect`` opened, for the prompt it was opened with.
        self._pending: tuple[Prompt, httpx.Response, float] | None = None

    # -- health ----------------------------------------------------------------------------

    def reachable(self) -> bool:
        """False while the server was found down in the last few seconds (not asked again)."""
        with self._lock:
            return self._down_at is None or self._clock() - self._down_at >= DOWN_RETRY_S

    def mark_down(self) -> None:
        """Take the server as down for a few seconds (it failed a request)."""
        with self._lock:
            self._down_at = self._clock()
        logger.warning("remote engine %s at %s does not answer", self.name, self.endpoint.url)

    def connect(self, prompt: Prompt, params: SamplingParams) -> bool:
        """Send the request and wait for the server's answer to begin; False (and marked down)
        when it cannot be reached or refuses, so the fallback answers instead."""
        self._drop_pending()
        path, body = self._body(prompt, params)
        started = time.perf_counter()
        try:
            answer = self._http.send(self._http.build_request("POST", path, json=body), stream=True)
        except httpx.HTTPError:
            self.mark_down()
            return False
        if answer.status_code != 200:
            answer.read()
            answer.close()
            logger.warning(
                "remote engine %s answered %s: %s", self.name, answer.status_code, answer.text[:300]
            )
            self.mark_down()
            return False
        with self._lock:
            self._down_at = None
        self._pending = (prompt, answer, started)
        return True

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending[1].close()
            self._pending = None

    # -- the ChatModel seam --------------------------------------------------------------------

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        """Keep the messages as they are (the server applies its own template); the token
        count is an estimate, enough to budget the answer."""
        size = sum(estimate_tokens(m.content) + 4 for m in messages)
        return Prompt([0] * size, (), tuple(messages), None)

    def render_text(self, text: str) -> Prompt:
        """Keep the raw completion text."""
        return Prompt([0] * estimate_tokens(text), (), None, text)

    def _body(self, prompt: Prompt, params: SamplingParams) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "frequency_penalty": params.frequency_penalty,
            "presence_penalty": params.presence_penalty,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop or prompt.stop:
            body["stop"] = list(params.stop + prompt.stop)[:4]  # OpenAI takes at most 4
        if params.grammar is not None:
            body["grammar"] = params.grammar  # llama-server honours it; others ignore it
        if prompt.messages is not None:
            body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
            return "/chat/completions", body
        body["prompt"] = prompt.text or ""
        return "/completions", body

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        """Stream the server's pieces (OpenAI's server-sent events) as they come."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0] is not prompt:
            if pending is not None:
                pending[1].close()
            if not self.connect(prompt, params):
                raise RemoteEngineError(
                    f"the remote engine {self.name} at {self.endpoint.url} does not answer; "
                    f"{self.fallback} answers the next requests until it is back"
                )
            pending, self._pending = self._pending, None
        assert pending is not None
        _, answer, started = pending
        stats.prompt_tokens = len(prompt.tokens)
        first_at: float | None = None
        stats.finish_reason = "length"
        held: list[str] = []
        sent_at = 0.0
        try:
            for line in answer.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                piece, finish = self._piece(json.loads(data), stats)
                if piece:
                    now = time.perf_counter()
                    if first_at is None:
                        first_at = now
                        stats.time_to_first_token = now - started
                    stats.completion_tokens += 1
                    stats.decode_seconds = now - first_at
                    held.append(piece)
                    # The first piece at once, later ones in small batches: each one handed
                    # over wakes the hub's event loop, and where the engine shares the hub's
                    # cores (loopback, a small box) every wake-up stalls one of its threads.
                    if sent_at == 0.0 or now - sent_at >= BATCH_S:
                        yield "".join(held)
                        held.clear()
                        sent_at = now
                if finish:
                    stats.finish_reason = "stop" if finish == "stop" else "length"
                if cancelled():
                    stats.finish_reason = "cancelled"
                    return
            if held:
                yield "".join(held)
        except httpx.HTTPError as exc:
            self.mark_down()
            raise RemoteEngineError(
                f"the remote engine {self.name} at {self.endpoint.url} failed mid-answer "
                f"({type(exc).__name__}: {exc}); {self.fallback} answers the next requests "
                "until it is back"
            ) from exc
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise RemoteEngineError(
                f"the remote engine {self.name} sent something that is not OpenAI's stream "
                f"format ({exc}); check that {self.endpoint.url} is an OpenAI-compatible API"
            ) from exc
        finally:
            answer.close()

    @staticmethod
    def _piece(chunk: dict[str, Any], stats: GenerationStats) -> tuple[str, str | None]:
        usage = chunk.get("usage")
        if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
            stats.extra["remote_completion_tokens"] = float(usage["completion_tokens"])
        choices = chunk.get("choices") or []
        if not choices:
            return "", None
        choice = choices[0]
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        return str(text or ""), choice.get("finish_reason")

    def close(self) -> None:
        """Close the connections to the server."""
        self._drop_pending()
        self._http.close()
