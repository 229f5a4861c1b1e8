"""The web UI's Memory page in a real browser (Debian's headless Chromium) against a real hub.

One hub (its own data directory, the real embedder) and one browser serve the whole module; the
tests run in file order: sign in, add, find, edit, pin and forget, hostile text, a chat source
opening its memory, filters and paging, then screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.hub_process import start_hub
from tests.test_web_ui import (
    ARTIFACTS,
    PASSPHRASE,
    LiveHub,
)

BIKE = "My bicycle lock code is 4719."
BIKE_EDITED = "My bicycle lock code is 4719; the spare key is with Ana."
ATTACK = '<img src=x onerror="window.__pwned=true"> and <script>window.__pwned=true</script>'

# Realistic memories for the pictures, newest first, with a pinned one among them.
SEEDED = [
    ("fact", "import", 0, "Ana, my sister, lives in Porto and her birthday is on 14 March.", True),
    ("transcript", "device", 1, "Doctor's appointment moved to Thursday at 9:30, Rua Augusta."),
    ("sensor_summary", "device", 1, "Slept 7 h 12 min; resting heart rate 54 bpm; 9,840 steps."),
    ("note", "conversation", 2, "Buy oat milk, coffee beans and batteries for the door sensor."),
    ("image_text", "device", 4, "Parking level -2, spot C47 (photo from the glasses)."),
    ("message", "conversation", 6, "I prefer trains to planes for anything under 600 km."),
    ("document", "import", 9, "Flat lease: rent due on the 3rd; landlord Sr. Costa, 912 000 111."),
]
FILLER = 34  # old "message" memories, enough to need a second page


def seed_memories(hub: LiveHub) -> None:
    now = datetime.now(UTC)
    items = [
        {
            "text": text,
            "kind": kind,
            "source": source,
            "happened_at": (now - timedelta(days=days, hours=1)).isoformat(),
            "pinned": bool(pinned and pinned[0]),
        }
        for kind, source, days, text, *pinned in SEEDED
    ]
    items += [
        {
            "text": f"Old chat line number {n}: the weather was mild.",
            "kind": "message",
            "source": "conversation",
            "happened_at": (now - timedelta(days=60 + n)).isoformat(),
        }
        for n in range(FILLER)
    ]
    response = hub.api("POST", "/v1/memory/batch", json={"items": items})
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(start_hub(tmp_path_factory.mktemp("web-memory") / "data"))
    yield hub
    hub.process.stop()


def card(page: Page, text: str) -> Locator:
    return page.locator(".memory-card", has_text=text)


def search(page: Page, query: str) -> None:
    """Type a search and wait until its results (not the previous list) are shown."""
    page.fill("#memory-search", query)
    expect(page.locator(".memory-status")).to_contain_text(f"for “{query}”")


def add_memory(page: Page, text: str) -> None:
    page.get_by_role("button", name="Add memory").click()
    page.fill("#memory-new-text", text)
    page.get_by_role("form", name="Add a memory").get_by_role("button", name="Save").click()
    expect(page.locator("#memory-new-text")).to_be_hidden()


def test_sign_in_and_open_the_empty_memory_page(live_hub: LiveHub, page: Page) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    page.get_by_role("link", name="Memory").click()
    expect(page.get_by_role("heading", name="Memory")).to_be_visible()
    expect(page.locator(".memory-empty")).to_contain_text("Nothing remembered yet")
    assert page.url.endswith("#/memory")


def test_add_find_edit_pin_and_forget_a_memory(live_hub: LiveHub, page: Page) -> None:
    add_memory(page, BIKE)
    added = page.locator(".memory-card").first
    expect(added).to_contain_text(BIKE)
    expect(added).to_contain_text("Note")
    expect(page.locator(".memory-status")).to_have_text("1 memory")
    memory_id = added.get_attribute("data-id")
    assert memory_id and memory_id.startswith("mem_")
    stored = live_hub.api("GET", f"/v1/memory/{memory_id}").json()
    assert stored["text"] == BIKE and stored["kind"] == "note"

    # Found by meaning: the query shares no word with the memory but "my".
    search(page, "combination for the bike padlock")
    found = page.locator(".memory-card").first
    expect(found).to_contain_text(BIKE)
    expect(found.locator(".match")).to_be_visible()

    found.get_by_role("button", name="Edit").click()
    editor = found.get_by_role("textbox", name="Memory text")
    expect(editor).to_have_value(BIKE)
    editor.fill(BIKE_EDITED)
    found.get_by_role("button", name="Save").click()
    expect(found.locator(".memory-text")).to_have_text(BIKE_EDITED)
    assert live_hub.api("GET", f"/v1/memory/{memory_id}").json()["text"] == BIKE_EDITED
    # Re-embedded: a search for the new part finds it.
    search(page, "who has my extra key")
    expect(page.locator(".memory-card").first).to_contain_text("spare key is with Ana")

    found = page.locator(f'.memory-card[data-id="{memory_id}"]')
    found.get_by_role("button", name="Pin").click()
    expect(found.locator(".pin-badge")).to_have_text("Pinned")
    expect(found.get_by_role("button", name="Unpin")).to_have_attribute("aria-pressed", "true")
    assert live_hub.api("GET", f"/v1/memory/{memory_id}").json()["pinned"] is True

    found.get_by_role("button", name="Forget").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Forget this memory?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(found).to_be_visible()
    found.get_by_role("button", name="Forget").click()
    page.get_by_role("dialog").get_by_role("button", name="Forget").click()
    expect(found).to_have_count(0)
    assert live_hub.api("GET", f"/v1/memory/{memory_id}").status_code == 404
    page.fill("#memory-search", "")
    expect(page.locator(".memory-empty")).to_contain_text("Nothing remembered yet")
    assert page.errors == []  # type: ignore[attr-defined]


def test_memory_text_with_html_is_shown_as_text(live_hub: LiveHub, page: Page) -> None:
    page.evaluate("window.__pwned = false")
    add_memory(page, ATTACK)
    shown = page.locator(".memory-card").first.locator(".memory-text")
    expect(shown).to_have_text(ATTACK)
    search(page, "img script")
    expect(page.locator(".memory-card").first.locator(".memory-text")).to_have_text(ATTACK)
    assert page.locator("#memory-list img, #memory-list script").count() == 0
    # Reloaded from the hub rather than typed in: still text.
    page.reload()
    expect(page.locator(".memory-card").first.locator(".memory-text")).to_have_text(ATTACK)
    assert page.locator("#memory-list img, #memory-list script").count() == 0
    assert page.evaluate("window.__pwned === true") is False
    memory_id = page.locator(".memory-card").first.get_attribute("data-id")
    assert live_hub.api("DELETE", f"/v1/memory/{memory_id}").status_code == 200


def test_a_chat_source_opens_its_memory(live_hub: LiveHub, page: Page) -> None:
    page.get_by_role("link", name="Chat").click()
    page.fill("#composer-input", "Remember that my neighbour Rui waters the plants on Fridays.")
    page.keyboard.press("Enter")
    source = page.locator(".sources a.source-snippet").last
    expect(source).to_contain_text("Rui waters the plants")
    source.click()
    expect(page.get_by_role("heading", name="Memory")).to_be_visible()
    assert "#/memory/mem_" in page.url
    expect(page.locator(".focus-bar")).to_contain_text("Showing one memory")
    focused = page.locator(".memory-card.focused")
    expect(focused).to_contain_text("Rui waters the plants")
    expect(page.locator(".memory-card")).to_have_count(1)
    page.get_by_role("button", name="Show all memories").click()
    expect(page.locator(".focus-bar")).to_be_hidden()
    expect(page.locator(".memory-status")).to_have_text("1 memory")


def test_filter_by_kind_and_load_more(live_hub: LiveHub, page: Page) -> None:
    seed_memories(live_hub)
    total = live_hub.api("GET", "/v1/memory?limit=1").json()["total"]
    page.reload()
    expect(page.locator(".memory-status")).to_have_text(f"{total} memories")
    expect(page.locator(".memory-card")).to_have_count(30)
    # Newest first: the seeded pinned fact (an hour old) comes after anything said just now.
    expect(card(page, "Ana, my sister").locator(".pin-badge")).to_be_visible()
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(".memory-card")).to_have_count(total)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    ids = page.locator(".memory-card").evaluate_all("(cards) => cards.map((c) => c.dataset.id)")
    assert len(set(ids)) == total

    page.select_option("#memory-kind", "sensor_summary")
    expect(page.locator(".memory-card")).to_have_count(1)
    expect(page.locator(".memory-card")).to_contain_text("resting heart rate")
    expect(page.locator(".memory-status")).to_have_text("1 sensor summary memory")
    search(page, "how well did I sleep")
    expect(page.locator(".memory-status")).to_have_text("1 result for “how well did I sleep”")
    page.fill("#memory-search", "")
    page.select_option("#memory-kind", "")
    expect(page.locator(".memory-card")).to_have_count(30)
    assert page.errors == []  # type: ignore[attr-defined]


def test_screenshots_of_the_memory_page(live_hub: LiveHub, page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, width, height in (("phone", 375, 812), ("desktop", 1280, 800)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(live_hub.url + "/#/memory")
            page.reload()  # a fresh page at this size, with no sidebar sliding away
            expect(card(page, "Ana, my sister")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"web-memory-{name}-{scheme}.png"))
    page.set_viewport_size({"width": 375, "height": 812})
    search(page, "when is the doctor")
    page.locator(".memory-card").first.get_by_role("button", name="Edit").click()
    page.screenshot(path=str(ARTIFACTS / "web-memory-search-phone-dark.png"))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.errors == []  # type: ignore[attr-defined]
