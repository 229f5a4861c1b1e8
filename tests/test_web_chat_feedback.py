"""Feedback from the web chat in a real browser against a real hub and model: mark an answer
good, correct one, and say "don't learn from this conversation"; the page shows it again after a
reload, and the personalization dataset learns exactly what the person allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Response, expect

from tests.hub_process import start_hub
from tests.test_web_ui import ARTIFACTS, PASSPHRASE, LiveHub

# Short answers keep the module quick; the nightly run stays off (the dataset is only read).
ENV = {
    "HUB_MEMORY_ENABLED": "false",
    "HUB_PERSONALIZE_ENABLED": "false",
    "HUB_DEFAULT_MAX_TOKENS": "16",
    "HUB_THREADS": "2",
}
CORRECTED = "The night bus N12 leaves Market Square at 23:40 every day."


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(start_hub(tmp_path_factory.mktemp("web-chat-feedback") / "data", env=ENV))
    yield hub
    hub.process.stop()


def ask(page: Page, text: str) -> Locator:
    """Send a message from the composer and wait for the stored answer; returns its article."""
    answers = page.locator(".msg-assistant")
    before = answers.count()
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")
    expect(answers).to_have_count(before + 1)
    answer = answers.nth(before)
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    return answer


def settled(page: Page) -> None:
    """Wait for what the chat loads beside the conversation (the model's name, the list)."""
    expect(page.locator(".model-badge")).not_to_be_empty()
    expect(page.locator(".conv-list li.active")).to_have_count(1)


def conversation_id(page: Page) -> int:
    return int(page.evaluate("location.hash").rsplit("/", 1)[1])


def learn_saved(response: Response) -> bool:
    """The hub's answer to the page saving "don't learn from this conversation"."""
    return response.request.method == "PUT" and "/v1/personalization/conversations/" in response.url


def dataset(hub: LiveHub) -> list[dict[str, Any]]:
    body = hub.api("GET", "/v1/personalization/dataset").json()
    return list(body["train"]) + list(body["held_out"])


def test_an_answer_marked_good_stays_marked_after_a_reload(live_hub: LiveHub, page: Page) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    answer = ask(page, "Say hello.")
    good = answer.get_by_role("button", name="Good answer")
    expect(good).to_have_attribute("aria-pressed", "false")
    good.press("Enter")  # from the keyboard; focus stays on the button after it redraws
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".feedback-good")).to_be_focused()
    answer_id = int(answer.get_attribute("data-id") or 0)

    page.reload()
    reopened = page.locator(f'.msg-assistant[data-id="{answer_id}"]')
    expect(reopened.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(reopened.get_by_role("button", name="Bad answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    stored = live_hub.api("GET", f"/v1/conversations/{conversation_id(page)}").json()
    assert stored["messages"][-1]["rating"] == "good"

    # Bad switches the rating; pressing it again clears it.
    bad = reopened.get_by_role("button", name="Bad answer")
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(reopened.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "false")
    stored = live_hub.api("GET", f"/v1/conversations/{conversation_id(page)}").json()
    assert stored["messages"][-1]["rating"] is None
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_correction_made_in_the_page_is_what_the_dataset_learns(
    live_hub: LiveHub, page: Page
) -> None:
    answer = ask(page, "When does the night bus leave?")
    original = answer.locator(".md").first.inner_text()
    answer.get_by_role("button", name="Correct this answer").click()
    editor = answer.get_by_label("The answer it should have been")
    expect(editor).to_be_focused()
    editor.fill(CORRECTED)
    answer.get_by_role("button", name="Save correction").click()
    expect(answer.locator(".corrected-tag")).to_have_text("Corrected by you")
    expect(answer.locator(".corrected > .md")).to_have_text(CORRECTED)
    answer.get_by_text("Original answer").click()
    expect(answer.locator(".original-answer .md")).to_have_text(original)

    page.reload()
    expect(page.locator(".msg-assistant").last.locator(".corrected > .md")).to_have_text(CORRECTED)
    learned = [e for e in dataset(live_hub) if e["prompt"] == "When does the night bus leave?"]
    assert [(e["answer"], e["preferred"]) for e in learned] == [(CORRECTED, True)]
    assert page.errors == []  # type: ignore[attr-defined]


def test_dont_learn_leaves_the_conversation_out_and_survives_a_reload(
    live_hub: LiveHub, page: Page
) -> None:
    toggle = page.get_by_label("Don't learn from this conversation")
    expect(toggle).not_to_be_checked()
    # The hub is asked below: wait until the page has saved the switch, not only ticked it.
    with page.expect_response(learn_saved) as saved:
        toggle.click()
    assert saved.value.ok, saved.value.text()
    expect(toggle).to_be_checked()
    expect(toggle).to_be_enabled()
    opened = conversation_id(page)
    learning = live_hub.api("GET", f"/v1/personalization/conversations/{opened}").json()
    assert learning["learn"] is False
    prompts = {e["prompt"] for e in dataset(live_hub)}
    assert "When does the night bus leave?" not in prompts
    assert "Say hello." not in prompts

    page.reload()
    expect(page.get_by_label("Don't learn from this conversation")).to_be_checked()
    # A new chat has nothing to exclude yet: the switch appears with its first answer.
    page.get_by_role("button", name="New chat").click()
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    expect(page.locator(".learn-toggle")).to_be_hidden()
    ask(page, "Name a colour.")
    expect(page.get_by_label("Don't learn from this conversation")).not_to_be_checked()
    assert "Name a colour." in {e["prompt"] for e in dataset(live_hub)}
    assert page.errors == []  # type: ignore[attr-defined]


def test_feedback_that_cannot_be_saved_says_why(live_hub: LiveHub, page: Page) -> None:
    # The conversation is deleted elsewhere (another tab, the API) while the page shows it.
    live_hub.api("DELETE", f"/v1/conversations/{conversation_id(page)}")
    answer = page.locator(".msg-assistant").last
    answer.get_by_role("button", name="Bad answer").click()
    expect(answer.get_by_role("alert")).to_have_text(
        "Your feedback was not saved: this answer is no longer on the hub"
        " (its conversation was deleted, or it was regenerated)."
    )
    expect(answer.get_by_role("button", name="Bad answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    # click(), not check(): the page unticks the box again when the hub refuses the change.
    toggle = page.get_by_label("Don't learn from this conversation")
    with page.expect_response(learn_saved) as refused:
        toggle.click()
    assert refused.value.status == 404
    reason = page.locator(".learn-error")
    expect(reason).to_have_text("Not changed: this conversation is no longer on the hub.")
    expect(reason).to_be_visible()
    expect(toggle).not_to_be_checked()
    expect(toggle).to_be_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-chat-feedback-errors-desktop-light.png"))
    # The reason stays while the page redraws the same conversation (here: a message it cannot
    # send there either), so the person still sees why the box went back.
    page.fill("#composer-input", "Are you still there?")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-assistant").last.get_by_role("alert")).to_contain_text(
        "The hub could not answer"
    )
    expect(reason).to_have_text("Not changed: this conversation is no longer on the hub.")
    expect(toggle).not_to_be_checked()


def test_screenshots_of_feedback_in_the_chat(live_hub: LiveHub, page: Page) -> None:
    first = live_hub.api("GET", "/v1/conversations").json()["data"][-1]["id"]
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, width, height in (("phone", 375, 812), ("desktop", 1280, 800)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{live_hub.url}/#/chat/{first}")
            page.reload()
            expect(page.locator(".corrected-tag")).to_be_visible()
            expect(page.get_by_label("Don't learn from this conversation")).to_be_checked()
            settled(page)
            page.screenshot(path=str(ARTIFACTS / f"web-chat-feedback-{name}-{scheme}.png"))
    # The inline editor at phone width in the dark; Escape closes it and keeps the keyboard there.
    page.set_viewport_size({"width": 375, "height": 812})
    answer = page.locator(".msg-assistant").last
    answer.get_by_role("button", name="Correct this answer").click()
    editor = answer.get_by_label("The answer it should have been")
    expect(editor).to_have_value(CORRECTED)
    expect(answer.get_by_role("button", name="Remove correction")).to_be_visible()
    expect(editor).to_be_focused()
    page.screenshot(
        path=str(ARTIFACTS / "web-chat-feedback-correcting-phone-dark.png"), animations="disabled"
    )
    editor.press("Escape")
    expect(answer.get_by_role("button", name="Correct this answer")).to_be_focused()
    expect(answer.locator(".corrected > .md")).to_have_text(CORRECTED)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.errors == []  # type: ignore[attr-defined]
