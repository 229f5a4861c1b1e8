"""The web UI in a real browser (Debian's headless Chromium) against a real hub and model.

One hub (with its own data directory, so first-run sign-in is real) and one browser serve the
whole module; the tests run in file order and build on each other like a person's first visit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser_support import WAIT_MS
from tests.hub_process import HubProcess, start_hub

PASSPHRASE = "walking nas rides again"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SHORT_ANSWER_TOKENS = 48

expect.set_options(timeout=WAIT_MS)


@dataclass
class LiveHub:
    """The module's hub; restarting it keeps the data directory."""

    process: HubProcess

    @property
    def url(self) -> str:
        return self.process.base_url

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers=self.process.headers(), timeout=120, **kwargs
        )

    def restart(self) -> None:
        data_dir = self.process.data_dir
        self.process.stop()
        self.process = start_hub(data_dir)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def metric_total(hub: LiveHub, name: str, label: str = "") -> float:
    text = hub.api("GET", "/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " ")) and label in line
    )


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(start_hub(tmp_path_factory.mktemp("web-ui") / "data"))
    # Short answers keep the module quick (and prove the hub applies stored preferences).
    hub.api("PUT", "/v1/preferences", json={"max_tokens": SHORT_ANSWER_TOKENS, "temperature": 0})
    yield hub
    hub.process.stop()


def send(page: Page, text: str) -> None:
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")


def finished_answers(page: Page) -> Any:
    return page.locator(".msg-assistant:not(.streaming)")


def new_chat(page: Page) -> None:
    """Open a new chat and wait until the page shows it (not the conversation before)."""
    page.get_by_role("button", name="New chat").click()
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()


def answer_replacing(page: Page, replaced: str | None) -> Locator:
    """The last answer once the hub has stored it (it has an id), and not the one replaced."""
    answer = page.locator(".msg-assistant").last
    expect(answer).not_to_have_attribute("data-id", replaced or "")
    expect(answer).to_have_attribute("data-id", re.compile(r"^\d+$"))
    return answer


def test_first_run_sets_a_passphrase_and_signs_in(live_hub: LiveHub, page: Page) -> None:
    # Not a terminal: the log says where the link is, never the link (journald keeps logs).
    link = (live_hub.process.data_dir / "setup_link").read_text()
    assert "/?setup=" in link and "/?setup=" not in live_hub.process.log()
    assert "hub setup-link" in live_hub.process.log()
    page.goto(live_hub.url)
    expect(page.get_by_role("heading", name="Welcome to your hub")).to_be_visible()
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE + " typo")
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("differ")
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    expect(page.locator(".model-badge")).to_have_text("smollm2-135m-instruct")
    cookie = next(c for c in page.context.cookies() if c["name"] == "wnas_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_an_answer_streams_in_token_by_token(live_hub: LiveHub, page: Page) -> None:
    # Record every length the answer had while streaming, to see it grow piece by piece, and
    # whether Stop was offered meanwhile (asked afterwards: a short answer may be done at once).
    page.evaluate(
        """() => {
          window.__lengths = [];
          window.__stopShown = false;
          new MutationObserver(() => {
            const node = document.querySelector('.msg-assistant.streaming .md');
            if (!node) return;
            window.__lengths.push(node.textContent.length);
            const stop = document.querySelector('.stop-btn');
            window.__stopShown ||= Boolean(stop && !stop.hidden);
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    send(page, "Name three colours of the rainbow.")
    expect(page.locator(".msg-user .bubble")).to_have_text("Name three colours of the rainbow.")
    answer = answer_replacing(page, None)
    expect(answer.locator(".meta-speed")).to_contain_text("tok/s")
    expect(answer.locator(".meta-model")).to_have_text("smollm2-135m-instruct")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    lengths = page.evaluate("window.__lengths")
    assert len({n for n in lengths if n > 0}) >= 3, f"the answer did not stream: {lengths}"
    assert page.evaluate("window.__stopShown"), "Stop was not offered while the answer streamed"
    assert len(answer.locator(".md").inner_text()) > 3
    expect(page.locator("#chat-title")).to_have_text("Name three colours of the rainbow.")
    expect(page.locator(".conv-list li.active")).to_contain_text("Name three colours")
    assert page.errors == []  # type: ignore[attr-defined]


def test_regenerate_and_edit_the_last_message(live_hub: LiveHub, page: Page) -> None:
    conversation_id = int(page.url.rsplit("/", 1)[1])
    first = page.locator(".msg-assistant").last.get_attribute("data-id")
    page.get_by_role("button", name="Regenerate").click()
    regenerated = answer_replacing(page, first)
    expect(regenerated.locator(".meta-speed")).to_be_visible()
    expect(page.locator(".msg-assistant")).to_have_count(1)
    second = regenerated.get_attribute("data-id")

    page.locator(".msg-user").last.get_by_role("button", name="Edit").click()
    editor = page.get_by_role("textbox", name="Edit your message")
    # The page focuses the editor and puts the caret at the end just after showing it: wait for
    # that, or it can land between fill's select-all and its typing and append to the old text.
    expect(editor).to_be_focused()
    editor.fill("Name two colours of the sea.")
    editor.press("Enter")
    expect(page.locator(".msg-user .bubble")).to_have_text("Name two colours of the sea.")
    edited = answer_replacing(page, second)
    expect(edited.locator(".meta-speed")).to_be_visible()
    stored = live_hub.api("GET", f"/v1/conversations/{conversation_id}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[0]["content"] == "Name two colours of the sea."


def test_stop_really_stops_the_generation(live_hub: LiveHub, page: Page) -> None:
    live_hub.api("PUT", "/v1/preferences", json={"max_tokens": 1500, "temperature": 0.8})
    try:
        cancelled_before = metric_total(
            live_hub, "hub_generations_total", 'finish_reason="cancelled"'
        )
        tokens_before = metric_total(live_hub, "hub_completion_tokens_total")
        new_chat(page)
        send(page, "Write a very long story about a lighthouse keeper, in many chapters.")
        page.wait_for_function(
            "() => (document.querySelector('.msg-assistant.streaming .md')?.textContent || '')"
            ".length > 40",
            timeout=WAIT_MS,
        )
        page.get_by_role("button", name="Stop").click()
        answer = page.locator(".msg-assistant").last
        expect(answer.locator(".meta-stopped")).to_have_text("Stopped")
        shown = answer.locator(".md").inner_text()
        wait_until(
            lambda: (
                metric_total(live_hub, "hub_generations_total", 'finish_reason="cancelled"')
                == cancelled_before + 1
            ),
            "the hub to count a cancelled generation",
        )
        made = metric_total(live_hub, "hub_completion_tokens_total") - tokens_before
        assert made < 1500 / 2, f"the stopped generation went on for {made} tokens"
        conversation_id = int(page.url.rsplit("/", 1)[1])

        def stored_answer() -> dict[str, Any] | None:
            path = f"/v1/conversations/{conversation_id}"
            messages = live_hub.api("GET", path).json()["messages"]
            return messages[-1] if messages[-1]["role"] == "assistant" else None

        stored = wait_until(stored_answer, "the partial answer to be stored")
        assert stored["stopped"] is True
        assert stored["content"].strip() and shown.strip()[:20] in stored["content"]
    finally:
        live_hub.api(
            "PUT", "/v1/preferences", json={"max_tokens": SHORT_ANSWER_TOKENS, "temperature": 0}
        )


def test_html_in_messages_and_model_output_is_shown_as_text(page: Page) -> None:
    page.evaluate("window.__pwned = false")
    attack = '<img src=x onerror="window.__pwned=true"> and <script>window.__pwned=true</script>'
    new_chat(page)
    send(page, attack)
    expect(page.locator(".msg-user .bubble")).to_have_text(attack)
    expect(finished_answers(page).last.locator(".meta-speed")).to_be_visible()
    assert page.locator(".messages .bubble img, .messages .md img, .messages script").count() == 0
    assert page.evaluate("window.__pwned") is False

    # Model output goes through the Markdown renderer: feed it hostile text directly.
    rendered = page.evaluate(
        """async () => {
          const { renderMarkdown } = await import('/static/markdown.js');
          const hostile = [
            '# Title <img src=x onerror="window.__pwned=true">',
            '**bold <b>tag</b>** and [click](javascript:window.__pwned=true)',
            '<script>window.__pwned = true</script>',
            '- item <iframe src="javascript:window.__pwned=true"></iframe>',
            '```html', '<svg onload="window.__pwned=true"></svg>', '```',
            '[ok](https://example.org) `<i>code</i>`',
          ].join('\\n');
          const box = document.createElement('div');
          box.append(renderMarkdown(hostile));
          document.body.append(box);
          await new Promise((resolve) => setTimeout(resolve, 300));
          const tags = [...box.querySelectorAll('*')].map((el) => el.tagName.toLowerCase());
          const links = [...box.querySelectorAll('a')].map((a) => a.getAttribute('href'));
          const attributes = [...box.querySelectorAll('*')].flatMap(
            (el) => [...el.attributes].map((a) => a.name));
          const text = box.textContent;
          box.remove();
          return { tags, links, attributes, text, pwned: window.__pwned };
        }"""
    )
    assert rendered["pwned"] is False
    assert set(rendered["tags"]) <= {"h3", "p", "strong", "a", "ul", "li", "pre", "code", "br"}
    assert rendered["links"] == ["https://example.org"]
    assert set(rendered["attributes"]) <= {"href", "rel", "target", "data-lang"}
    for raw in ('<img src=x onerror="window.__pwned=true">', "<b>tag</b>", "<script>"):
        assert raw in rendered["text"]
    assert "<svg onload" in rendered["text"] and "<i>code</i>" in rendered["text"]


def test_screenshots_at_phone_and_desktop_sizes(live_hub: LiveHub, page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    live_hub.api("PUT", "/v1/preferences", json={"max_tokens": 200, "temperature": 0})
    try:
        new_chat(page)
        send(page, "Give me three tips for sleeping well, as a numbered list.")
        expect(finished_answers(page).locator(".meta-speed")).to_be_visible()
    finally:
        live_hub.api(
            "PUT", "/v1/preferences", json={"max_tokens": SHORT_ANSWER_TOKENS, "temperature": 0}
        )
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, width, height in (("phone", 375, 812), ("desktop", 1280, 800)):
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            expect(finished_answers(page).locator(".meta-speed")).to_be_visible()
            expect(page.locator(".model-badge")).to_have_text("smollm2-135m-instruct")
            expect(page.locator(".conv-list li.active")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / f"web-chat-{name}-{scheme}.png"))
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    expect(page.locator(".conv-list li.active")).to_have_count(1)
    page.get_by_role("button", name="Open menu").click()
    expect(page.locator(".conv-list")).to_be_in_viewport()
    # The drawer's slide is finished for the picture instead of waited for.
    page.screenshot(path=str(ARTIFACTS / "web-drawer-phone-dark.png"), animations="disabled")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_reload_find_rename_search_and_delete(live_hub: LiveHub, page: Page) -> None:
    page.goto(live_hub.url + "/#/chat")
    listed = page.locator(".conv-list a", has_text="Name three colours of the rainbow.")
    expect(listed).to_be_visible()
    listed.click()
    expect(page.locator(".msg-user .bubble")).to_have_text("Name two colours of the sea.")

    page.get_by_role("button", name="Rename conversation").click()
    title = page.get_by_role("textbox", name="Conversation title")
    title.fill("Sea colours")
    title.press("Enter")
    expect(page.locator("#chat-title")).to_have_text("Sea colours")
    expect(page.locator(".conv-list li.active")).to_contain_text("Sea colours")

    page.fill("#conversation-search", "two colours of the sea")  # message text, not title
    expect(page.locator(".conv-list a")).to_have_count(1)
    expect(page.locator(".conv-list a")).to_contain_text("Sea colours")
    page.fill("#conversation-search", "no conversation says this")
    expect(page.locator(".conv-empty")).to_have_text("No chats match.")
    page.fill("#conversation-search", "")
    expect(page.locator(".conv-list a", has_text="lighthouse keeper")).to_be_visible()

    page.get_by_role("button", name="Delete conversation").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    expect(page.locator(".conv-list a", has_text="Sea colours")).to_have_count(0)
    titles = [c["title"] for c in live_hub.api("GET", "/v1/conversations").json()["data"]]
    assert "Sea colours" not in titles


def test_wrong_passphrase_is_refused(live_hub: LiveHub, browser: Browser) -> None:
    fresh = browser.new_context()
    fresh.set_default_timeout(WAIT_MS)
    try:
        stranger = fresh.new_page()
        stranger.goto(live_hub.url)
        expect(stranger.get_by_role("button", name="Sign in")).to_be_visible()
        stranger.fill("#passphrase", "not the passphrase")
        stranger.get_by_role("button", name="Sign in").click()
        expect(stranger.locator("#sign-in-error")).to_have_text("Wrong passphrase; try again")
        assert not any(c["name"] == "wnas_session" for c in fresh.cookies())
        stranger.screenshot(path=str(ARTIFACTS / "web-sign-in-refused.png"))
        stranger.fill("#passphrase", PASSPHRASE)
        stranger.get_by_role("button", name="Sign in").click()
        expect(stranger.get_by_role("heading", name="How can I help?")).to_be_visible()
    finally:
        fresh.close()


def test_session_and_conversations_survive_a_hub_restart(live_hub: LiveHub, page: Page) -> None:
    live_hub.restart()
    page.goto(live_hub.url + "/#/chat")
    expect(page.locator(".conv-list a", has_text="lighthouse keeper")).to_be_visible()
    page.locator(".conv-list a", has_text="lighthouse keeper").click()
    expect(page.locator(".msg-assistant .meta-stopped")).to_have_text("Stopped")
    page.get_by_role("link", name="Settings").click()
    expect(page.locator(".model-option input:checked")).to_have_value("smollm2-135m-instruct")
    expect(page.locator("#max-tokens")).to_have_value(str(SHORT_ANSWER_TOKENS))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
