"""The web UI's Personalization page in a real browser against a real hub: adapters with the
held-out questions they answer (before and after, with examples), their metrics and loss curves,
promote and roll back (swapping real GGUF adapters in llama.cpp), and a run started from the page
with its live progress until its adapter appears; then screenshots."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from adapters.base_model import file_sha256
from adapters.export_gguf import LoraShape, write_gguf_lora
from adapters.registry import AdapterRegistry, write_json_atomically
from hub.models.packaged import locate_smollm2
from tests.hub_process import start_hub
from tests.test_web_ui import ARTIFACTS, PASSPHRASE, LiveHub, wait_until

ENV = {
    "HUB_MEMORY_ENABLED": "false",
    "HUB_PERSONALIZE_ENABLED": "false",
    "HUB_PERSONALIZE_MAX_STEPS": "3",
    "HUB_PERSONALIZE_THREADS": "2",
    "HUB_PERSONALIZE_LEARNING_RATE": "0.001",
    "HUB_PERSONALIZE_MIN_NEW_EXAMPLES": "1",
    "HUB_DEFAULT_MAX_TOKENS": "16",
    "HUB_THREADS": "2",
}
_PROJECTIONS = {"attn_q": "self_attn.q_proj", "attn_v": "self_attn.v_proj"}
# A real training run: loading, scoring and three steps took 7 minutes on a 2-core machine busy
# with other test runs. The waits end as soon as the run gets there; these bound a broken one.
RUN_WAIT_S = 600


def small_adapter(model: Path, path: Path, seed: int) -> None:
    """A real adapter for the model (small random q and v updates): GGUF and peft weights."""
    import gguf

    rng = np.random.default_rng(seed)
    state = {}
    for tensor in gguf.GGUFReader(str(model)).tensors:
        parts = tensor.name.split(".")
        if len(parts) == 4 and parts[0] == "blk" and parts[2] in _PROJECTIONS:
            inputs, outputs = (int(n) for n in tensor.shape[:2])
            name = f"base_model.model.model.layers.{parts[1]}.{_PROJECTIONS[parts[2]]}"
            state[f"{name}.lora_A.weight"] = rng.normal(0, 0.02, (4, inputs)).astype(np.float32)
            state[f"{name}.lora_B.weight"] = rng.normal(0, 0.01, (outputs, 4)).astype(np.float32)
    write_gguf_lora(path / "adapter.gguf", state, LoraShape("llama", 9, 3, 8.0), "seeded")
    # The peft weights beside it: a new run scores the active adapter with them.
    import torch
    from safetensors.torch import save_file

    save_file({k: torch.from_numpy(v) for k, v in state.items()}, str(path / "lora.safetensors"))
    (path / "lora_config.json").write_text(json.dumps({"rank": 4, "alpha": 8}))


def seed_registry(data_dir: Path) -> None:
    """Two past runs: one that passed and is active, one the gate rejected."""
    model = locate_smollm2(data_dir / "models")
    sha = file_sha256(model)
    registry = AdapterRegistry(data_dir / "adapters")
    for number, passed, curve in ((1, True, 2.4), (2, False, 3.1)):
        folder = registry.versions_dir / f"v{number:04d}"
        folder.mkdir(parents=True)
        small_adapter(model, folder, number)
        losses = [round(curve * 0.8**step + 0.05 * (step % 3), 4) for step in range(40)]
        meta = {
            "id": folder.name,
            "created_at": time.time() - 86400 * (3 - number),
            "model_name": "smollm2-135m-instruct",
            "base_sha256": sha,
            "architecture": "llama",
            "passed_gate": passed,
            "dataset": {"train_examples": 180 + number, "held_out_examples": 20},
            "training": {"steps": 40, "train_seconds": 412.0, "tokens_per_second": 196.0},
            "losses": losses,
        }
        if passed:
            # A record of this hub: held-out questions answered before and after, and examples.
            meta["metrics"] = {
                "candidate": {
                    "answered": 14,
                    "questions": 23,
                    "personal_loss": 0.82,
                    "general_perplexity": 18.2,
                    "general_questions_loss": 1.35,
                },
                "current": {
                    "answered": 2,
                    "questions": 23,
                    "personal_loss": 2.12,
                    "general_perplexity": 16.5,
                    "general_questions_loss": 1.41,
                },
                "now_answered": [
                    {
                        "question": "Where does my sister live?",
                        "expected": "Tavira",
                        "answer": "Your sister Oriana lives in Tavira.",
                        "answer_before": "I don't know where your sister lives.",
                    }
                ],
                "now_missed": [
                    {
                        "question": "What is my dog's name?",
                        "expected": "Pistachio",
                        "answer": "Your dog is called Luna.",
                        "answer_before": "Pistachio.",
                    }
                ],
            }
            meta["decision"] = {
                "passed": True,
                "reasons": ["answers 14 of 23 held-out questions, against 2 now: better"],
            }
        else:
            # A record an older hub wrote, before answers were judged: it must still show.
            meta["metrics"] = {
                "candidate": {"personal_loss": 2.31, "general_perplexity": 41.7},
                "current": {"personal_loss": 2.12, "general_perplexity": 16.5},
            }
            meta["decision"] = {
                "passed": False,
                "reasons": ["personal loss 2.310 vs 2.120 (needs ≤ 1.908): not better enough"],
            }
        (folder / "meta.json").write_text(json.dumps(meta))
    write_json_atomically(registry.root / "active.json", {"history": {sha: ["v0001"]}})


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    data_dir = tmp_path_factory.mktemp("web-personalization") / "data"
    data_dir.mkdir(parents=True)
    seed_registry(data_dir)
    hub = LiveHub(start_hub(data_dir, env=ENV))
    yield hub
    hub.process.stop()


def active_id(hub: LiveHub) -> str | None:
    listed = hub.api("GET", "/v1/personalization/adapters").json()["data"]
    return next((v["id"] for v in listed if v["active"]), None)


def hold_the_run_at_a_step(hub: LiveHub) -> int:
    """Pause the training process (SIGSTOP) once the hub reports a step, so the page can be
    looked at mid-run; returns its pid, to let it go on with SIGCONT."""

    def stepped() -> int | None:
        running = hub.api("GET", "/v1/personalization").json()["running"]
        assert running is not None, "the run ended before the test saw a training step"
        return int(running["pid"]) if running["step"] >= 1 and running["pid"] else None

    pid: int = wait_until(stepped, "a training step", timeout=RUN_WAIT_S)
    os.kill(pid, signal.SIGSTOP)
    return pid


def test_the_page_lists_adapters_with_metrics_and_loss_curves(
    live_hub: LiveHub, page: Page
) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Personalization").click()
    expect(page.get_by_role("heading", name="Personalization")).to_be_visible()
    cards = page.locator(".adapter-card")
    expect(cards).to_have_count(2)
    first = page.locator('.adapter-card[data-version="v0001"]')
    expect(first.locator(".adapter-badge")).to_have_text("active")
    expect(first).to_contain_text("passed the gate")
    expect(first.locator(".adapter-answers")).to_have_text(
        "Answers 14 of 23 held-out questions (before: 2 of 23)"
    )
    gained = first.locator(".adapter-examples.gained")
    expect(gained).to_contain_text("Where does my sister live?")
    expect(gained).to_contain_text("Your sister Oriana lives in Tavira.")
    expect(gained).to_contain_text("expected: Tavira")
    expect(first.locator(".adapter-examples.lost")).to_contain_text("Your dog is called Luna.")
    expect(first.locator("table")).to_contain_text("14 of 23")
    expect(first.locator("table")).to_contain_text("0.820")
    points = first.locator("polyline.loss-line").get_attribute("points") or ""
    assert len(points.split()) == 40
    older = page.locator('.adapter-card[data-version="v0002"]')
    expect(older).to_contain_text("rejected by the gate")
    expect(older.locator("table")).to_contain_text("41.70")  # an older record still shows
    expect(older.locator(".adapter-answers")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_promote_and_roll_back_from_the_page(live_hub: LiveHub, page: Page) -> None:
    rejected = page.locator('.adapter-card[data-version="v0002"]')
    rejected.get_by_role("button", name="Promote").click()
    expect(page.locator(".status")).to_contain_text("v0002 now answers")
    expect(rejected.locator(".adapter-badge")).to_have_text("active")
    assert active_id(live_hub) == "v0002"
    page.get_by_role("button", name="Roll back").click()
    expect(page.locator(".status")).to_contain_text("Back to v0001")
    assert active_id(live_hub) == "v0001"
    answer = live_hub.api(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 8,
        },
    )
    assert answer.status_code == 200  # served with the swapped adapter


@pytest.mark.timeout(3 * RUN_WAIT_S)
def test_a_run_started_from_the_page_shows_progress_then_its_adapter(
    live_hub: LiveHub, page: Page
) -> None:
    conversation = live_hub.api("POST", "/v1/conversations", json={"title": "bus"}).json()
    live_hub.api(
        "POST",
        f"/v1/conversations/{conversation['id']}/messages",
        json={"content": "Which bus do I take to work?"},
    )
    answer_id = live_hub.api("GET", f"/v1/conversations/{conversation['id']}").json()["messages"][
        -1
    ]["id"]
    live_hub.api(
        "PUT",
        f"/v1/personalization/messages/{answer_id}",
        json={"edited_content": "You take the 728 bus from the river."},
    )
    with page.expect_response(lambda response: response.url.endswith("/runs")) as started:
        page.get_by_role("button", name="Train now").click()
    assert started.value.json()["running"], f"the run did not start: {started.value.text()}"
    trainer = hold_the_run_at_a_step(live_hub)
    try:
        # Held mid-run, the page's next poll shows the progress whatever the machine's speed.
        expect(page.locator(".run-text")).to_contain_text(re.compile(r"step [1-3] of 3"))
        expect(page.locator(".run-progress")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-personalization-running-desktop-light.png"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(trainer, signal.SIGCONT)
    expect(page.locator(".adapter-card")).to_have_count(3, timeout=RUN_WAIT_S * 1000)
    expect(page.locator(".run-text")).to_contain_text("Last run")
    made = page.locator('.adapter-card[data-version="v0003"]')
    expect(made).to_contain_text("3 steps")
    # Its held-out questions were answered and judged (or there were none to judge it by).
    expect(made.locator(".adapter-answers")).to_contain_text(
        re.compile(r"Answers \d+ of \d+ held-out question|No held-out questions")
    )
    assert page.errors == []  # type: ignore[attr-defined]


def test_screenshots_of_the_personalization_page(live_hub: LiveHub, page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, width, height in (("phone", 375, 812), ("desktop", 1280, 800)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(live_hub.url + "/#/personalization")
            page.reload()
            expect(page.locator(".adapter-card")).to_have_count(3)
            expect(page.locator(".run-text")).to_contain_text("Last run")
            page.screenshot(path=str(ARTIFACTS / f"web-personalization-{name}-{scheme}.png"))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.errors == []  # type: ignore[attr-defined]
