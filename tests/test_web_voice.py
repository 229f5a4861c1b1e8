"""The web UI's Voice page in a real browser (Debian's headless Chromium) against a real hub,
with a simulated Home Assistant satellite advertising itself on mDNS on 127.0.0.1.

One hub, one satellite and one browser serve the module; the tests run in file order: sign in and
see the hub's voice set-up and the satellite waiting, approve it, add one by address (wrong
input first), a transcript appearing while the page is open, "Say…" playing the hub's voice,
pictures at phone and desktop sizes, and revoking the satellite after confirming.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.hub_process import free_port, start_hub
from tests.test_web_ui import ARTIFACTS, PASSPHRASE, LiveHub, wait_until
from tests.wyoming_satellite import SatelliteScript, SimulatedSatellite

SATELLITE = "web-porch"
SPEECH_PORT = free_port()


class SatelliteThread:
    """The simulated satellite on its own event loop, beside the synchronous browser."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # No speech: the page only needs it found, connected and revoked.
        self.script = SatelliteScript(b"")
        self.satellite = SimulatedSatellite(self.script, free_port(), name=SATELLITE)
        self._call(self.satellite.start())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    def stop(self) -> None:
        self._call(self.satellite.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(
        start_hub(
            tmp_path_factory.mktemp("web-voice") / "data",
            {"HUB_WYOMING_SERVER_PORT": str(SPEECH_PORT)},
        )
    )
    yield hub
    hub.process.stop()


@pytest.fixture(scope="module")
def satellite(live_hub: LiveHub) -> Iterator[SatelliteThread]:
    started = SatelliteThread()
    yield started
    started.stop()


def satellites(hub: LiveHub) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in hub.api("GET", "/v1/voice/satellites").json()["data"]}


def card(page: Page, satellite_id: str) -> Locator:
    return page.locator(f'.satellite-card[data-id="{satellite_id}"]')


def test_the_page_shows_the_set_up_and_a_satellite_waiting(
    live_hub: LiveHub, page: Page, satellite: SatelliteThread
) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    page.get_by_role("link", name="Voice").click()
    expect(page.get_by_role("heading", name="Voice", exact=True)).to_be_visible()
    facts = page.locator(".voice-facts")
    expect(facts).to_contain_text("“hey hub”, then the question")
    expect(facts).to_contain_text("whisper-tiny.en")
    expect(facts).to_contain_text(f"On at 127.0.0.1:{SPEECH_PORT}")
    expect(facts).to_contain_text("Looking for them")
    expect(page.locator(".voice-counts")).to_contain_text("0 transcripts")
    # Found on mDNS, and not listened to until the person approves it.
    waiting = card(page, SATELLITE)
    expect(waiting.locator(".badge")).to_have_text("Waiting for approval")
    expect(waiting).to_contain_text(f"127.0.0.1:{satellite.satellite.port} · found on the network")
    expect(waiting).to_contain_text("does not listen to it until you approve it")
    assert satellite.script.connections == 0
    expect(page.locator(".live")).to_contain_text("Live")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-voice-waiting-desktop-light.png"))

    # By keyboard: focus stays on the card (on Revoke, which replaces Approve), also through
    # the polls that follow.
    waiting.get_by_role("button", name=f"Approve {SATELLITE}").press("Enter")
    expect(waiting.locator(".badge")).to_have_text("Connected")
    revoke = waiting.get_by_role("button", name=f"Revoke {SATELLITE}")
    expect(revoke).to_be_focused()
    updated = page.locator(".live-time")
    expect(updated).not_to_have_text(updated.inner_text())  # a later poll has redrawn the card
    expect(revoke).to_be_focused()
    row = satellites(live_hub)[SATELLITE]
    assert row["status"] == "approved" and row["connected"] is True
    assert satellite.script.connections == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_adding_by_address_says_what_is_wrong_then_adds(live_hub: LiveHub, page: Page) -> None:
    form = page.get_by_role("form", name="Add a satellite by address")
    error = form.get_by_role("alert")
    form.get_by_role("button", name="Add").click()
    expect(error).to_have_text(
        "Type the satellite's address, such as 192.168.1.20 or kitchen.local."
    )
    form.get_by_label("Address").fill("http://garage.local")
    form.get_by_role("button", name="Add").click()
    expect(error).to_contain_text("only letters, digits, dots, dashes, colons and brackets")
    expect(form.get_by_label("Address")).to_be_focused()
    form.get_by_label("Address").fill("127.0.0.1")
    form.get_by_label("Port").fill("70000")
    form.get_by_label("Port").press("Enter")
    expect(error).to_have_text(
        "The port is a number from 1 to 65535 (satellites usually use 10700)."
    )
    assert [row for row in satellites(live_hub).values() if row["source"] == "address"] == []

    nobody = free_port()  # nothing listens there: the card says so, and the hub keeps trying
    form.get_by_label("Port").fill(str(nobody))
    form.get_by_label("Name").fill("Garage")
    form.get_by_role("button", name="Add").click()
    added = card(page, f"127.0.0.1:{nobody}")
    expect(added.locator(".device-name")).to_have_text("Garage")
    expect(added.locator(".badge")).to_have_text("Not connected")
    expect(added).to_contain_text("added by address")
    expect(added.locator(".satellite-note")).to_contain_text("Last error:")
    expect(error).to_be_hidden()
    row = satellites(live_hub)[f"127.0.0.1:{nobody}"]
    assert (row["name"], row["status"], row["source"]) == ("Garage", "approved", "address")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_new_transcript_appears_while_the_page_is_open(live_hub: LiveHub, page: Page) -> None:
    transcripts = page.get_by_role("log", name="Latest transcripts")
    nothing_yet = page.get_by_text("Nothing heard yet")
    expect(nothing_yet).to_be_visible()
    for text, request in (
        ("Remember to water the tomatoes on Friday.", False),
        ("Hey hub, when is the dentist?", True),
    ):
        stored = live_hub.api(
            "POST",
            "/v1/memory",
            json={
                "text": text,
                "kind": "transcript",
                "source": "device",
                "metadata": {"device_id": "sim-earbuds-ui", "via": "device", "request": request},
            },
        )
        assert stored.status_code == 200, stored.text
    newest = transcripts.locator(".transcript").first
    expect(newest).to_contain_text("Hey hub, when is the dentist?")
    expect(newest).to_contain_text("asked the assistant")
    older = transcripts.locator(".transcript").nth(1)
    expect(older.locator(".transcript-device")).to_have_text("sim-earbuds-ui")
    expect(older.locator(".transcript-text")).to_have_text(
        "Remember to water the tomatoes on Friday."
    )
    expect(older.locator("time")).to_have_text("just now")
    expect(nothing_yet).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_say_plays_the_hubs_voice(page: Page) -> None:
    say = page.get_by_role("form", name="Hear the hub's voice")
    say.get_by_role("button", name="Say").click()
    expect(say.get_by_role("alert")).to_have_text("Type something for the hub to say.")
    say.get_by_label("Text to say").fill("Good morning. The tomatoes need water.")
    say.get_by_label("Text to say").press("Enter")
    audio = say.locator("audio")
    expect(audio).to_be_visible()
    expect(say.get_by_role("alert")).to_be_hidden()
    # The browser decoded the hub's WAV: about two seconds of speech.
    duration = wait_until(
        lambda: audio.evaluate("el => el.readyState >= 1 && el.duration"), "the audio to load"
    )
    assert 1.0 < duration < 10.0
    say.screenshot(path=str(ARTIFACTS / "web-voice-say-desktop-light.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_screenshots_of_the_voice_page(live_hub: LiveHub, page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        # Tall enough to show the whole page (it scrolls inside, so full_page would not).
        for name, width, height in (("phone", 375, 2000), ("desktop", 1280, 1300)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(live_hub.url + "/#/voice")
            page.reload()
            expect(card(page, SATELLITE).locator(".badge")).to_have_text("Connected")
            expect(page.locator(".transcript")).to_have_count(2)
            expect(page.locator(".live")).to_contain_text("Live")
            page.screenshot(path=str(ARTIFACTS / f"web-voice-{name}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.errors == []  # type: ignore[attr-defined]


def test_revoking_asks_first_then_hangs_up(
    live_hub: LiveHub, page: Page, satellite: SatelliteThread
) -> None:
    porch = card(page, SATELLITE)
    porch.get_by_role("button", name=f"Revoke {SATELLITE}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Revoke {SATELLITE}?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(porch.locator(".badge")).to_have_text("Connected")
    assert satellites(live_hub)[SATELLITE]["status"] == "approved"
    porch.get_by_role("button", name=f"Revoke {SATELLITE}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(porch.locator(".badge")).to_have_text("Revoked")
    expect(porch.get_by_role("button", name=f"Approve {SATELLITE}")).to_be_visible()
    row = satellites(live_hub)[SATELLITE]
    assert row["status"] == "revoked" and row["connected"] is False
    wait_until(lambda: satellite.script.disconnected.is_set(), "the hub to hang up")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_hub_with_voice_and_memory_off_says_how_to_turn_them_on(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    quiet = LiveHub(
        start_hub(
            tmp_path_factory.mktemp("web-voice-off") / "data",
            {"HUB_VOICE_ENABLED": "false", "HUB_MEMORY_ENABLED": "false"},
        )
    )
    # Its own context: a second hub on 127.0.0.1 would replace the first one's session cookie.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(quiet.url)
        page.fill("#passphrase", PASSPHRASE)
        page.fill("#passphrase-confirm", PASSPHRASE)
        page.click("button[type=submit]")
        expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
        page.goto(quiet.url + "/#/voice")
        expect(page.locator(".voice-off")).to_have_text(
            "Voice is off on this hub; set HUB_VOICE_ENABLED=true and restart it."
        )
        expect(page.get_by_role("status").filter(has_text="HUB_MEMORY_ENABLED=true")).to_have_text(
            "Memory is turned off on this hub; set HUB_MEMORY_ENABLED=true and restart it."
            " Transcripts are kept only in memory."
        )
        expect(page.get_by_text("Satellites need voice, which is off on this hub.")).to_be_visible()
        expect(page.get_by_role("form", name="Add a satellite by address")).to_be_hidden()
        expect(page.get_by_role("form", name="Hear the hub's voice")).to_be_hidden()
        expect(page.locator(".live")).to_contain_text("Live")
        page.screenshot(path=str(ARTIFACTS / "web-voice-off-desktop-light.png"))
        assert errors == []
    finally:
        context.close()
        quiet.process.stop()
