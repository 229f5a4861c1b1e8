"""Bad input gets a clear 4xx in OpenAI's error shape, and the hub keeps serving."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEFAULT_MODEL
from tests.hub_process import HubProcess, start_hub


def post_chat(
    hub: HubProcess, headers: dict[str, str] | None = None, **kwargs: object
) -> httpx.Response:
    return httpx.post(
        f"{hub.base_url}/v1/chat/completions",
        headers={**hub.headers(), **(headers or {})},
        timeout=60,
        **kwargs,  # type: ignore[arg-type]
    )


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code", "param"}
    for word in words:
        assert word in error["message"], error["message"]
    return error


GOOD = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({**GOOD, "model": "gpt-9"}, 404, ("gpt-9", "smollm2-135m-instruct", "hub models add")),
        ({**GOOD, "temperature": "hot"}, 400, ("temperature",)),
        ({**GOOD, "messages": "hello"}, 400, ("messages",)),
        ({**GOOD, "messages": []}, 400, ("messages",)),
        ({**GOOD, "messages": [{"role": "wizard", "content": "x"}]}, 400, ("role",)),
        ({**GOOD, "max_tokens": -3}, 400, ("max_tokens",)),
        ({**GOOD, "max_tokens": 10**12}, 400, ("max_tokens",)),
        ({**GOOD, "max_tokens": 100_000}, 400, ("context of 2048 tokens", "max_tokens")),
        ({**GOOD, "n": 3}, 400, ("n",)),
        ({"messages": GOOD["messages"]}, 400, ("model",)),
        ([1, 2, 3], 400, ()),
    ],
)
def test_bad_chat_requests_are_refused_clearly(
    hub: HubProcess, body: object, status: int, words: tuple[str, ...]
) -> None:
    assert_error(post_chat(hub, json=body), status, *words)


def test_malformed_json_is_a_400(hub: HubProcess) -> None:
    response = post_chat(
        hub, content=b'{"model": "x", "messages": [', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "JSON")


def test_oversized_body_is_a_413_and_the_hub_survives(hub: HubProcess) -> None:
    huge = {**GOOD, "messages": [{"role": "user", "content": "x" * 3_000_000}]}
    assert_error(post_chat(hub, json=huge), 413, "HUB_MAX_BODY_BYTES")

    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(40):
            yield b"x" * 100_000

    response = post_chat(hub, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert post_chat(hub, json=GOOD).status_code == 200


def test_unknown_endpoint_and_method_use_the_error_shape(hub: HubProcess) -> None:
    assert_error(httpx.get(f"{hub.base_url}/v1/nothing", headers=hub.headers()), 404, "/v1/nothing")
    assert_error(httpx.delete(f"{hub.base_url}/v1/models", headers=hub.headers()), 405, "DELETE")


def test_switching_model_at_run_time(hub: HubProcess) -> None:
    def active() -> str:
        return httpx.get(f"{hub.base_url}/v1/models/active", headers=hub.headers()).json()["model"]

    url = f"{hub.base_url}/v1/models/active"
    assert_error(httpx.put(url, json={"model": "nope"}, headers=hub.headers()), 404, "nope")
    try:
        switched = httpx.put(url, json={"model": "gemma3-270m"}, headers=hub.headers(), timeout=120)
        assert switched.status_code == 200, switched.text
        assert active() == "gemma3-270m"
        answer = post_chat(
            hub,
            json={"model": "gemma3-270m", "messages": GOOD["messages"], "max_tokens": 8},
        )
        assert answer.status_code == 200
        assert answer.json()["model"] == "gemma3-270m"
        models = httpx.get(f"{hub.base_url}/v1/models", headers=hub.headers()).json()["data"]
        assert [m["id"] for m in models if m["active"]] == ["gemma3-270m"]
        saved = (hub.data_dir / "models.json").read_text()
        assert '"active": "gemma3-270m"' in saved
    finally:
        httpx.put(url, json={"model": DEFAULT_MODEL}, headers=hub.headers(), timeout=120)
    assert active() == DEFAULT_MODEL


@pytest.mark.slow
def test_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    # One slot: a single long answer fills the model (with more, each would need one).
    busy_hub = start_hub(tmp_path / "data", env={"HUB_MAX_QUEUE": "0", "HUB_PARALLEL_SLOTS": "1"})
    try:
        long_body = {
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "Write a long essay about rivers."}],
            "max_tokens": 400,
            "temperature": 0.8,
            "stream": True,
        }
        started, done = threading.Event(), threading.Event()

        def occupy() -> None:
            with httpx.stream(
                "POST",
                f"{busy_hub.base_url}/v1/chat/completions",
                json=long_body,
                headers=busy_hub.headers(),
                timeout=120,
            ) as response:
                for _ in response.iter_lines():
                    started.set()
                    if done.is_set():  # leaving cancels the answer: the model is free at once
                        return

        worker = threading.Thread(target=occupy)
        worker.start()
        assert started.wait(60)
        refused = post_chat(busy_hub, json=GOOD)
        done.set()
        error = assert_error(refused, 429, "busy")
        assert error["type"] == "rate_limit_error"
        assert int(refused.headers["Retry-After"]) >= 1
        worker.join(120)
        # The model is freed as soon as the hub notices the client left; then it answers again.
        deadline = time.monotonic() + 60
        while (status := post_chat(busy_hub, json=GOOD).status_code) == 429:
            assert time.monotonic() < deadline, "the model was never freed"
            time.sleep(0.2)
        assert status == 200
    finally:
        busy_hub.stop()
