"""The Memory page's storage and housekeeping panel in a real browser against a real hub: sizes
per kind, the index status, the policy, a run and its undo, as the page settles to them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from tests.hub_process import start_hub
from tests.test_web_ui import ARTIFACTS, PASSPHRASE, LiveHub

SAID = [
    "Call the plumber about the kitchen tap tomorrow",
    "The quince jam needs two kilos of sugar",
    "Meet Ana at the harbor cafe at six",
    "Renew the car insurance before the end of the month",
    "Buy a birthday present for Tom, maybe a kite",
]


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    # The plain summary (what was said and when): the model's wording is not what is tested.
    env = {"HUB_MEMORY_HOUSEKEEPING_MODEL_SUMMARIES": "false"}
    hub = LiveHub(start_hub(tmp_path_factory.mktemp("web-housekeeping") / "data", env=env))
    # A morning in local time (the day a memory belongs to): a run near midnight would
    # otherwise spread the items over two days.
    old_day = datetime.now().astimezone().replace(hour=9, minute=0, second=0, microsecond=0)
    old_day -= timedelta(days=45)
    items = [
        {
            "text": text,
            "kind": "transcript",
            "source": "device",
            "happened_at": (old_day + timedelta(minutes=20 * n)).isoformat(),
            "metadata": {"device_id": "ear-1"},
        }
        for n, text in enumerate(SAID)
    ]
    items.append({"text": "The spare key is under the blue flower pot.", "kind": "note"})
    assert hub.api("POST", "/v1/memory/batch", json={"items": items}).status_code == 200
    yield hub
    hub.process.stop()


def test_the_panel_shows_sizes_index_and_policy(live_hub: LiveHub, page: Page) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    page.get_by_role("link", name="Memory").click()
    page.locator("#memory-housekeeping summary").click()

    transcripts = page.locator('#hk-sizes tr[data-kind="transcript"] td')
    expect(transcripts.nth(1)).to_have_text("5")
    expect(transcripts.nth(3)).to_have_text("\u2013")  # an en dash: nothing held
    expect(page.locator('#hk-sizes tr[data-kind="note"] td').nth(1)).to_have_text("1")
    expect(page.locator("#hk-index")).to_have_text(
        "Search by meaning scans every vector exactly: 6 vectors."
    )
    expect(page.locator('.hk-action[data-kind="transcript"]')).to_have_value("keep")
    expect(page.locator('.hk-days[data-kind="transcript"]')).to_be_hidden()
    expect(page.locator("#hk-last")).to_have_text("No housekeeping run yet.")
    expect(page.locator("#memory-housekeeping summary")).to_contain_text("KB")


def test_a_run_summarizes_old_days_and_undo_brings_them_back(live_hub: LiveHub, page: Page) -> None:
    panel = page.locator("#memory-housekeeping")
    panel.locator('.hk-action[data-kind="transcript"]').select_option("summarize")
    panel.locator('.hk-days[data-kind="transcript"]').fill("30")
    panel.locator("#hk-grace").fill("7")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_text("Saved.")).to_be_visible()
    policies = {
        p["kind"]: p for p in live_hub.api("GET", "/v1/memory/housekeeping").json()["policies"]
    }
    assert (
        policies["transcript"]["action"] == "summarize"
        and policies["transcript"]["after_days"] == 30
    )

    panel.get_by_role("button", name="Run now").click()

    expect(page.locator("#hk-last")).to_contain_text("compacted 1 day (5 items, 1 summary)")
    transcripts = page.locator('#hk-sizes tr[data-kind="transcript"] td')
    expect(transcripts.nth(1)).to_have_text("1")
    expect(transcripts.nth(3)).to_contain_text("5 (")
    expect(panel.get_by_role("button", name="Undo (1 day)")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-memory-housekeeping.png"))
    summary = page.locator(".memory-card", has_text="5 times between")
    expect(summary).to_contain_text("The quince jam needs two kilos of sugar")
    expect(page.locator(".memory-card", has_text=SAID[0])).to_have_count(1)  # only the summary

    panel.get_by_role("button", name="Undo (1 day)").click()

    expect(transcripts.nth(1)).to_have_text("5")
    expect(transcripts.nth(3)).to_have_text("\u2013")  # an en dash: nothing held
    expect(panel.get_by_role("button", name="Undo (1 day)")).to_be_hidden()
    expect(page.locator(".memory-card", has_text="5 times between")).to_have_count(0)
    expect(page.locator(".memory-card", has_text="Renew the car insurance")).to_have_count(1)
    assert not page.errors  # type: ignore[attr-defined]


def test_the_panel_follows_an_index_rebuild_until_it_is_done(live_hub: LiveHub, page: Page) -> None:
    # A rebuild needs 20,000 vectors and a lost index file: too slow to make here, so the status
    # answer is the hub's own with the index part replaced, the rest of the page real.
    index = {"mode": "building", "searchable": 40, "total": 30000, "built": 12000, "error": None}

    def status(route: Route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "index": index})

    page.route("**/v1/memory/status", status)
    try:
        page.reload()
        page.locator("#memory-housekeeping summary").click()
        expect(page.locator("#hk-index")).to_have_text(
            "Rebuilding the search index: 12,000 of 30,000 vectors. "
            "Search finds by words meanwhile."
        )
        index.update(mode="ann", searchable=30000, built=0)
        expect(page.locator("#hk-index")).to_have_text(
            "Search by meaning uses the saved index (ANN): 30,000 vectors."
        )
    finally:
        page.unroute("**/v1/memory/status")
