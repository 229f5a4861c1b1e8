"""Settings, Model, in a real browser (Debian's headless Chromium): pull a model from a local
model hub, watch it finish, see it listed and choose it (fast: fake model, the real app)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.model_hub_server import HostedFile, ModelHubServer, write_tiny_gguf
from tests.test_web_hardening import hub_app, hub_settings, served

PASSPHRASE = "pull a bigger model"
REPO = "acme/Tiny-Chat-GGUF"


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web-pull")
    server = ModelHubServer()
    tiny = write_tiny_gguf(folder / "tiny.gguf", "Tiny Chat", 4 << 20)
    server.repos[REPO] = {"tiny-chat-Q4_K_M.gguf": HostedFile(tiny)}
    server.start()
    data_dir = folder / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_ENDPOINT", server.url)  # read when the hub is built
        patch.setenv("HF_HOME", str(folder / "hf-home"))
        # An in-process embedder earlier in the session switched this process offline.
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        patch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        app = hub_app(data_dir)
    with served(app, hub_settings(data_dir)) as url:
        yield url
    server.stop()


def test_pull_a_model_from_the_settings_page(web_url: str, page: Page) -> None:
    page.goto(web_url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Settings").click()
    section = page.get_by_role("region", name="Model")
    page.fill("#pull-source", f"{REPO}:Q2_K")
    section.get_by_role("button", name="Pull").click()
    expect(section.locator(".pull-status")).to_contain_text("it offers: tiny-chat-Q4_K_M.gguf")
    page.fill("#pull-source", REPO)
    section.get_by_role("button", name="Pull").click()
    expect(section.locator(".pull-status")).to_have_text(
        "Added tiny-chat-q4_k_m. Choose it above to make it answer.", timeout=60_000
    )
    expect(section.get_by_role("progressbar")).to_have_attribute("value", "1")
    choice = section.get_by_role("radio", name="tiny-chat-q4_k_m")
    expect(choice).to_be_visible()
    assert not page.errors  # type: ignore[attr-defined]
