"""The Ollama-compatible API through the official `ollama` client, against the session's real
hub and model, with a scoped credential in the URL as Home Assistant uses it; and what an
attacker on the network gets: no credential, a revoked or wrong one, the wrong scope, broken
or huge bodies, unknown models; and the credential never in the hub's log."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jsonschema
import ollama
import pytest

from tests.client_support import make_client
from tests.conftest import DEFAULT_MODEL
from tests.hub_process import HubProcess

MODEL = f"{DEFAULT_MODEL}:latest"
SHORT = {"temperature": 0, "num_predict": 12}


@dataclass(frozen=True)
class Credentials:
    assistant: str  # chat, memory:read: Home Assistant's
    chat_only: str
    notes: str  # memory:read only


@pytest.fixture(scope="module")
def credentials(hub: HubProcess) -> Credentials:
    return Credentials(
        assistant=make_client(hub, "ollama-test-assistant", ["chat", "memory:read"]),
        chat_only=make_client(hub, "ollama-test-chat", ["chat"]),
        notes=make_client(hub, "ollama-test-notes", ["memory:read"]),
    )


def prefixed(hub: HubProcess, credential: str) -> str:
    return f"{hub.base_url}/c/{credential}"


@pytest.fixture(scope="module")
def assistant(hub: HubProcess, credentials: Credentials) -> Iterator[ollama.Client]:
    with ollama.Client(host=prefixed(hub, credentials.assistant), timeout=120) as client:
        yield client


def refused(call: object) -> ollama.ResponseError:
    assert callable(call)
    with pytest.raises(ollama.ResponseError) as caught:
        call()
    assert isinstance(caught.value.error, str)  # Ollama's {"error": "..."}, not OpenAI's shape
    return caught.value


def test_models_are_listed_shown_pulled_and_running(
    hub: HubProcess, credentials: Credentials, assistant: ollama.Client
) -> None:
    names = [model.model for model in assistant.list().models]
    assert MODEL in names
    shown = assistant.show(MODEL)
    assert shown.details is not None and shown.details.format == "gguf"
    assert shown.capabilities is not None and "completion" in shown.capabilities
    assert shown.modelinfo is not None and shown.modelinfo["general.architecture"] == "llama"
    assert assistant.pull(DEFAULT_MODEL).status == "success"
    assert MODEL in [model.model for model in assistant.ps().models]
    version = httpx.get(f"{prefixed(hub, credentials.chat_only)}/api/version", timeout=30)
    assert version.status_code == 200 and version.json()["version"]


def test_chat_answers_whole_and_streamed_with_its_counters(assistant: ollama.Client) -> None:
    messages = [{"role": "user", "content": "Say hello to Ana."}]
    whole = assistant.chat(model=MODEL, messages=messages, options=SHORT)
    assert whole.message.role == "assistant" and whole.message.content
    assert whole.done and whole.done_reason in ("stop", "length")
    assert whole.eval_count and whole.prompt_eval_count and whole.total_duration
    assert whole.eval_duration is not None and whole.load_duration is not None
    parts = list(assistant.chat(model=MODEL, messages=messages, options=SHORT, stream=True))
    assert len(parts) >= 3 and all(not part.done for part in parts[:-1])
    last = parts[-1]
    assert last.done and last.eval_count and last.done_reason in ("stop", "length")
    assert "".join(part.message.content or "" for part in parts).strip()


def test_generate_answers_a_prompt_raw_text_and_json(assistant: ollama.Client) -> None:
    answer = assistant.generate(model=MODEL, prompt="Name a colour.", options=SHORT)
    assert answer.response and answer.done and answer.eval_count
    streamed = list(
        assistant.generate(
            model=MODEL, prompt="Once upon a time", raw=True, options=SHORT, stream=True
        )
    )
    assert streamed[-1].done and "".join(part.response or "" for part in streamed).strip()
    held = assistant.generate(
        model=MODEL,
        prompt='Describe a cat as JSON with keys "name" and "age".',
        format="json",
        options={"temperature": 0, "num_predict": 30},
    )
    text = held.response.strip()
    assert text.startswith("{")
    if held.done_reason == "stop":  # a whole answer is one JSON object
        assert isinstance(json.loads(text), dict)


def test_embed_makes_unit_vectors(hub: HubProcess, assistant: ollama.Client) -> None:
    status = httpx.get(f"{hub.base_url}/v1/memory/status", headers=hub.headers(), timeout=30)
    name = status.json()["embedding_model"].lower()
    embedded = assistant.embed(model=name, input=["My sister lives in Tavira.", "Hello"])
    assert len(embedded.embeddings) == 2
    for vector in embedded.embeddings:
        assert len(vector) == 384 and math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-3)
    error = refused(lambda: assistant.embed(model="nomic-embed-text", input="x"))
    assert error.status_code == 404 and name in error.error


def test_a_question_is_answered_from_a_stored_note_with_its_citation(
    hub: HubProcess, credentials: Credentials, assistant: ollama.Client
) -> None:
    note = {"text": "My sister Marta's birthday is on 14 March.", "kind": "note"}
    stored = httpx.post(f"{hub.base_url}/v1/memory", json=note, headers=hub.headers(), timeout=60)
    assert stored.status_code == 200, stored.text
    question = [{"role": "user", "content": "When is my sister Marta's birthday?"}]
    answer = assistant.chat(
        model=MODEL, messages=question, options={"temperature": 0, "num_predict": 30}
    )
    assert "14" in answer.message.content and "march" in answer.message.content.lower()
    raw = httpx.post(
        f"{prefixed(hub, credentials.assistant)}/api/chat",
        json={"model": MODEL, "messages": question, "stream": False, "options": SHORT},
        timeout=120,
    ).json()
    assert raw["citations"] and "Marta" in raw["citations"][0]["snippet"]
    # Without memory:read the same question gets no memory.
    blind = httpx.post(
        f"{prefixed(hub, credentials.chat_only)}/api/chat",
        json={"model": MODEL, "messages": question, "stream": False, "options": SHORT},
        timeout=120,
    ).json()
    assert "citations" not in blind and blind["done"]


def test_no_credential_a_revoked_one_or_the_wrong_scope_is_refused(
    hub: HubProcess, credentials: Credentials
) -> None:
    with ollama.Client(host=hub.base_url, timeout=30) as anonymous:
        assert refused(anonymous.list).status_code == 401
    with ollama.Client(host=prefixed(hub, "wnc_" + "A" * 43), timeout=30) as guessing:
        assert refused(guessing.list).status_code == 401
    revoked = make_client(hub, "ollama-test-revoked", ["chat"])
    with ollama.Client(host=prefixed(hub, revoked), timeout=30) as client:
        assert client.list().models
        gone = httpx.delete(
            f"{hub.base_url}/v1/clients/ollama-test-revoked", headers=hub.headers(), timeout=30
        )
        assert gone.status_code == 200
        assert refused(client.list).status_code == 401
    with ollama.Client(host=prefixed(hub, credentials.notes), timeout=30) as notes:
        chat = refused(lambda: notes.chat(model=MODEL, messages=[{"role": "user", "content": "x"}]))
        assert chat.status_code == 403 and "'chat'" in chat.error
    chat_only = prefixed(hub, credentials.chat_only)
    for method, path in (
        ("POST", "/v1/memory/search"),
        ("GET", "/v1/memory"),
        ("GET", "/v1/devices"),
        ("GET", "/v1/clients"),
    ):
        answer = httpx.request(method, chat_only + path, json={"query": "x"}, timeout=30)
        assert answer.status_code == 403, (path, answer.text)


def test_broken_huge_and_unknown_requests_get_a_clear_4xx(
    hub: HubProcess, credentials: Credentials, assistant: ollama.Client
) -> None:
    url = f"{prefixed(hub, credentials.assistant)}/api/chat"
    cases = [
        b"{not json",
        b'{"model": "' + MODEL.encode() + b'", "messages": "hello"}',
        json.dumps({"model": MODEL, "messages": [], "options": {"temperature": "hot"}}).encode(),
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
    ]
    for body in cases:
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (body, answer.text)
        assert isinstance(answer.json()["error"], str)
    huge = httpx.post(url, content=b"x" * 3_000_000, timeout=30)
    assert huge.status_code == 413 and "HUB_MAX_BODY_BYTES" in huge.json()["error"]
    too_long = [{"role": "user", "content": "word " * 6000}]
    error = refused(lambda: assistant.chat(model=MODEL, messages=too_long))
    assert error.status_code == 400 and "context" in error.error
    unknown = refused(lambda: assistant.chat(model="llama3:8b", messages=too_long))
    assert unknown.status_code == 404 and MODEL in unknown.error
    wrong_tag = refused(lambda: assistant.show(f"{DEFAULT_MODEL}:7b"))
    assert wrong_tag.status_code == 404
    assert refused(lambda: assistant.pull("llama3")).status_code == 404


def test_no_credential_reaches_the_hubs_log(hub: HubProcess, credentials: Credentials) -> None:
    log = hub.log()
    for credential in (credentials.assistant, credentials.chat_only, credentials.notes):
        assert credential not in log
        assert credential[4:20] not in log


LIGHT_TOOL = {
    "type": "function",
    "function": {
        "name": "turn_on_light",
        "description": "Turn on the light in a room of the house.",
        "parameters": {
            "type": "object",
            "properties": {
                "room": {"type": "string", "enum": ["kitchen", "bedroom", "hall"]},
                "brightness": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            "required": ["room"],
        },
    },
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Today's weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TOOLS = [LIGHT_TOOL, WEATHER_TOOL]
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}


def checked_calls(message: ollama.Message) -> list[tuple[str, dict[str, object]]]:
    """The message's calls, each checked against the declared tool's schema."""
    calls = []
    for call in message.tool_calls or []:
        assert call.function.name in SCHEMAS
        arguments = dict(call.function.arguments)  # an object, as Ollama's clients expect
        jsonschema.validate(arguments, SCHEMAS[call.function.name])
        calls.append((call.function.name, arguments))
    return calls


def test_tool_calls_come_back_as_objects_valid_for_their_schema(
    assistant: ollama.Client,
) -> None:
    assert "tools" in (assistant.show(MODEL).capabilities or [])
    prompts = ["Turn on the kitchen light.", "What will the weather be in Lisbon today?"]
    made = []
    for prompt in prompts:
        answer = assistant.chat(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            tools=TOOLS,
            options={"temperature": 0},
        )
        assert answer.done and answer.message.role == "assistant"
        made += checked_calls(answer.message)
    assert made, "no prompt was answered with a tool call"

    streamed = list(
        assistant.chat(
            model=MODEL,
            messages=[{"role": "user", "content": prompts[0]}],
            tools=[LIGHT_TOOL],
            options={"temperature": 0},
            stream=True,
        )
    )
    assert streamed[-1].done
    calls = [call for chunk in streamed for call in checked_calls(chunk.message)]
    assert [name for name, _ in calls] == ["turn_on_light"]


def test_a_tool_result_is_answered_in_words(assistant: ollama.Client) -> None:
    answer = assistant.chat(
        model=MODEL,
        messages=[
            {"role": "user", "content": "What will the weather be in Lisbon today?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Lisbon"}}}
                ],
            },
            {"role": "tool", "tool_name": "get_weather", "content": "Sunny, 24 degrees."},
        ],
        tools=TOOLS,
        options={"temperature": 0, "num_predict": 40},
    )
    assert answer.done and not answer.message.tool_calls
    assert answer.message.content.strip()


def test_a_broken_tool_schema_is_refused_with_a_reason(assistant: ollama.Client) -> None:
    broken = {"type": "function", "function": {"name": "bad name!", "parameters": {}}}
    error = refused(
        lambda: assistant.chat(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], tools=[broken]
        )
    )
    assert error.status_code == 400 and "name" in error.error
