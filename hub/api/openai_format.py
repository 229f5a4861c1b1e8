"""Shape answers the way OpenAI clients expect them."""

from __future__ import annotations

import secrets
import time
from typing import Any

from hub.engine.types import GenerationStats


def new_id(prefix: str) -> str:
    """A fresh response id such as ``chatcmpl-…``."""
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    """Seconds since the epoch, as OpenAI's ``created``."""
    return int(time.time())


def usage(stats: GenerationStats) -> dict[str, Any]:
    """OpenAI's usage object, with cached prompt tokens."""
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens + stats.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": stats.cached_prompt_tokens},
    }


def timings(stats: GenerationStats) -> dict[str, Any]:
    """The hub's own speed figures (not part of OpenAI's schema; clients ignore them)."""
    ttft = stats.time_to_first_token
    rate = stats.decode_tokens_per_second
    return {
        "time_to_first_token_ms": round(ttft * 1000, 2) if ttft is not None else None,
        "decode_tokens_per_second": round(rate, 2) if rate is not None else None,
    }


def finish_reason(stats: GenerationStats) -> str:
    """OpenAI's finish reason; a cancelled answer is reported as 'stop'."""
    return "length" if stats.finish_reason == "length" else "stop"


def chat_chunk(
    response_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    reason: str | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}],
    }


def chat_completion(
    response_id: str, created: int, model: str, text: str, stats: GenerationStats
) -> dict[str, Any]:
    """A whole ``chat.completion``."""
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason(stats),
                "logprobs": None,
            }
        ],
        "usage": usage(stats),
        "timings": timings(stats),
    }


def text_chunk(
    response_id: str, created: int, model: str, text: str, reason: str | None = None
) -> dict[str, Any]:
    """One streamed ``text_completion`` piece."""
    return {
        "id": response_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": reason, "logprobs": None}],
    }


def text_completion(
    response_id: str, created: int, model: str, text: str, stats: GenerationStats
) -> dict[str, Any]:
    """A whole ``text_completion``."""
    body = text_chunk(response_id, created, model, text, finish_reason(stats))
    body["usage"] = usage(stats)
    body["timings"] = timings(stats)
    return body
