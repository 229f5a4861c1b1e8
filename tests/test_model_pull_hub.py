"""A running hub pulls a real model (SmolLM2, served by a local model hub), switches to it and
chats with it; only the owner may pull."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.models.packaged import locate_smollm2
from tests.hub_process import HubProcess, start_hub
from tests.model_hub_server import HostedFile, ModelHubServer

REPO = "acme/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


@pytest.fixture(scope="module")
def smol_model_hub() -> Iterator[ModelHubServer]:
    server = ModelHubServer()
    server.repos[REPO] = {FILE: HostedFile(locate_smollm2(Path()))}
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pulling_hub(
    tmp_path_factory: pytest.TempPathFactory, smol_model_hub: ModelHubServer
) -> Iterator[HubProcess]:
    folder = tmp_path_factory.mktemp("pulling")
    env = {"HF_ENDPOINT": smol_model_hub.url, "HF_HOME": str(folder / "hf-home")}
    # An in-process embedder earlier in the session switched this process (and so the hubs
    # it starts) offline; this hub is meant to reach its model hub.
    env |= {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
    process = start_hub(folder / "data", env)
    yield process
    process.stop()


def wait_for_pull(http: httpx.Client, pull_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, object] = http.get(f"/v1/models/pulls/{pull_id}").json()
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("the pull did not finish")


def test_a_pulled_model_answers_through_the_hub(pulling_hub: HubProcess) -> None:
    with httpx.Client(
        base_url=pulling_hub.base_url, headers=pulling_hub.headers(), timeout=120
    ) as http:
        started = http.post("/v1/models/pulls", json={"source": f"{REPO}:Q4_1"})
        assert started.status_code == 202, started.text
        job = wait_for_pull(http, started.json()["id"])
        assert job["state"] == "done", job
        assert job["model"] == "smollm2-135m-instruct-q4_1"
        assert job["done_bytes"] == job["total_bytes"] == locate_smollm2(Path()).stat().st_size
        listed = {m["id"]: m for m in http.get("/v1/models").json()["data"]}
        assert listed["smollm2-135m-instruct-q4_1"]["quantization"] == "Q4_1"
        used = http.put("/v1/models/active", json={"model": "smollm2-135m-instruct-q4_1"})
        assert used.json()["status"] == "ready"
        reply = http.post(
            "/v1/chat/completions",
            json={
                "model": "smollm2-135m-instruct-q4_1",
                "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 8,
            },
        )
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["model"] == "smollm2-135m-instruct-q4_1"
        assert answer["choices"][0]["message"]["content"].strip()
        unknown = http.post("/v1/models/pulls", json={"source": f"{REPO}:Q2_K"})
        failed = wait_for_pull(http, unknown.json()["id"])
        assert failed["state"] == "failed" and "it offers: " + FILE in str(failed["error"])
        bad = http.post("/v1/models/pulls", json={"source": "no-owner"})
        assert bad.status_code == 400 and "OWNER/NAME" in bad.text
    anonymous = httpx.post(f"{pulling_hub.base_url}/v1/models/pulls", json={"source": REPO})
    assert anonymous.status_code == 401
