"""End to end: the official OpenAI client against a real hub serving the embedded model."""

from __future__ import annotations

import concurrent.futures

import httpx
import openai
import pytest

from tests.conftest import DEFAULT_MODEL
from tests.hub_process import HubProcess

QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


def test_chat_answers_with_usage_counts(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=40, temperature=0
    )
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert len(choice.message.content or "") > 5
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 5
    assert 0 < answer.usage.completion_tokens <= 40
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.model == DEFAULT_MODEL


def test_greedy_decoding_is_repeatable_and_streaming_matches(client: openai.OpenAI) -> None:
    def ask() -> str:
        answer = client.chat.completions.create(
            model=DEFAULT_MODEL, messages=QUESTION, max_tokens=32, temperature=0
        )
        return answer.choices[0].message.content or ""

    first, second = ask(), ask()
    assert first == second
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=QUESTION,
        max_tokens=32,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, reasons = [], None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reasons.append(choice.finish_reason)
    assert "".join(pieces) == first
    assert len([p for p in pieces if p]) > 3, "the answer should arrive in many pieces"
    assert reasons[-1] in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0


def test_unchanged_prefix_reuses_the_kv_cache(hub: HubProcess) -> None:
    body = {
        "model": DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "Tell me about owls, in one line."}],
        "max_tokens": 8,
        "temperature": 0,
    }
    httpx.post(f"{hub.base_url}/v1/chat/completions", json=body, headers=hub.headers(), timeout=60)
    again = httpx.post(
        f"{hub.base_url}/v1/chat/completions", json=body, headers=hub.headers(), timeout=60
    ).json()
    usage = again["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] >= usage["prompt_tokens"] - 1


def test_text_completion(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model=DEFAULT_MODEL, prompt="The days of the week are Monday,", max_tokens=12, temperature=0
    )
    assert answer.choices[0].text.strip()
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    streamed = client.completions.create(
        model=DEFAULT_MODEL,
        prompt="The days of the week are Monday,",
        max_tokens=12,
        temperature=0,
        stream=True,
    )
    assert "".join(chunk.choices[0].text for chunk in streamed) == answer.choices[0].text


def test_models_are_listed_with_their_metadata(client: openai.OpenAI) -> None:
    models = {model.id: model.model_dump() for model in client.models.list()}
    assert {"smollm2-135m-instruct", "gemma3-270m"} <= set(models)
    smol = models["smollm2-135m-instruct"]
    assert smol["architecture"] == "llama"
    assert smol["quantization"] == "Q4_1"
    assert smol["context_length"] == 8192
    assert smol["chat_template"] is True
    assert smol["active"] is True
    gemma = models["gemma3-270m"]
    assert gemma["architecture"] == "gemma3"
    assert gemma["quantization"] == "Q4_K_M"


def test_health_needs_no_token_but_everything_else_does(hub: HubProcess) -> None:
    assert httpx.get(f"{hub.base_url}/health").json()["status"] == "ok"
    for method, path in [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("GET", "/metrics"),
        ("PUT", "/v1/models/active"),
    ]:
        response = httpx.request(method, f"{hub.base_url}{path}", json={})
        assert response.status_code == 401, path
        assert "hub token" in response.json()["error"]["message"]
    wrong = httpx.get(f"{hub.base_url}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_openai_client_with_wrong_key_is_refused(hub: HubProcess) -> None:
    stranger = openai.OpenAI(base_url=f"{hub.base_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_metrics_report_tokens_latency_and_queue(hub: HubProcess, client: openai.OpenAI) -> None:
    client.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=8)
    text = httpx.get(f"{hub.base_url}/metrics", headers=hub.headers()).text
    for name in (
        "hub_prompt_tokens_total",
        "hub_completion_tokens_total",
        "hub_time_to_first_token_seconds_bucket",
        "hub_decode_tokens_per_second",
        "hub_queue_depth",
        'hub_requests_total{endpoint="/v1/chat/completions",status="200"}',
    ):
        assert name in text, name


def metric_total(hub: HubProcess, name: str, label: str = "") -> float:
    """Sum of a metric's samples whose labels contain ``label``."""
    text = httpx.get(f"{hub.base_url}/metrics", headers=hub.headers()).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " ")) and label in line
    )


def test_client_that_disconnects_mid_stream_frees_the_model(hub: HubProcess) -> None:
    tokens_before = metric_total(hub, "hub_completion_tokens_total")
    cancelled_before = metric_total(hub, "hub_generations_total", 'finish_reason="cancelled"')
    body = {
        "model": DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "Write a very long story about a lighthouse."}],
        "max_tokens": 1500,
        "temperature": 0.8,
        "stream": True,
    }
    with httpx.stream(
        "POST", f"{hub.base_url}/v1/chat/completions", json=body, headers=hub.headers(), timeout=60
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for _ in range(5):
            next(lines)
    # The stream is closed: the next request is served, and the abandoned answer stopped early.
    answer = httpx.post(
        f"{hub.base_url}/v1/chat/completions",
        json={"model": DEFAULT_MODEL, "messages": QUESTION, "max_tokens": 5},
        headers=hub.headers(),
        timeout=60,
    )
    assert answer.status_code == 200
    made = metric_total(hub, "hub_completion_tokens_total") - tokens_before
    assert made < 1500 / 2, f"the abandoned generation went on for {made} tokens"
    cancelled = metric_total(hub, "hub_generations_total", 'finish_reason="cancelled"')
    assert cancelled == cancelled_before + 1


def test_concurrent_clients_all_get_complete_answers(client: openai.OpenAI) -> None:
    def ask(index: int) -> tuple[str, str | None, int]:
        answer = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": f"Count from {index} to {index + 20}."}],
            max_tokens=24,
            temperature=0,
        )
        assert answer.usage is not None
        return (
            answer.choices[0].message.content or "",
            answer.choices[0].finish_reason,
            answer.usage.completion_tokens,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(ask, range(5)))
    for text, reason, tokens in results:
        assert text
        assert reason == "stop" or tokens == 24


def test_trimming_oldest_turns_fits_a_long_conversation(client: openai.OpenAI) -> None:
    turns: list[dict[str, str]] = [{"role": "system", "content": "You are terse."}]
    for index in range(40):
        turns.append({"role": "user", "content": f"Fact {index}: " + "lorem ipsum " * 25})
        turns.append({"role": "assistant", "content": "Noted."})
    turns.append({"role": "user", "content": "Say OK."})
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=DEFAULT_MODEL, messages=turns, max_tokens=16)  # type: ignore[arg-type]
    assert "context" in str(refused.value)
    assert "trim_oldest" in str(refused.value)
    answer = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=turns,  # type: ignore[arg-type]
        max_tokens=16,
        extra_body={"context_overflow": "trim_oldest"},
    )
    assert answer.usage is not None and answer.usage.prompt_tokens < 2048
