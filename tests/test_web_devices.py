"""The web UI's Devices page in a real browser (Debian's headless Chromium) against a real hub,
with a simulated watch and glucose monitor (`python -m devices.sim`) streaming into it.

One hub, two simulators and one browser serve the module; the tests run in file order: sign in,
see both devices waiting, a wrong code then the right one, live charts that grow, pictures at
phone and desktop sizes, and revoking a device.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.hub_process import start_hub
from tests.test_web_ui import ARTIFACTS, PASSPHRASE, LiveHub, wait_until

WATCH, CGM = "sim-watch-ui", "sim-cgm-ui"


class Simulator:
    """A simulator process; its pairing code is read from what it prints."""

    def __init__(self, hub: LiveHub, kind: str, device_id: str, state: Path, *args: str) -> None:
        command = [sys.executable, "-m", "devices.sim", kind, "--id", device_id]
        command += ["--hub", hub.url, "--no-mdns", "--state", str(state), *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def code(self) -> str:
        def shown() -> str | None:
            for line in self.lines:
                if line.startswith("pairing code: "):
                    return line.split()[2]
            return None

        found: str = wait_until(shown, "the simulator's pairing code", timeout=60)
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(
        start_hub(tmp_path_factory.mktemp("web-devices") / "data", {"HUB_MEMORY_ENABLED": "false"})
    )
    yield hub
    hub.process.stop()


@pytest.fixture(scope="module")
def simulators(
    live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Simulator]]:
    state = tmp_path_factory.mktemp("web-devices-sims")
    # Sped up, so the charts fill in seconds: 30 watch seconds and two CGM minutes per second.
    started = {
        WATCH: Simulator(live_hub, "watch", WATCH, state / "watch", "--speed", "30"),
        CGM: Simulator(live_hub, "cgm", CGM, state / "cgm", "--interval", "60", "--speed", "120"),
    }
    yield started
    for simulator in started.values():
        simulator.stop()


def device_card(page: Page, device_id: str) -> Locator:
    return page.locator(f'.device-card[data-id="{device_id}"]')


def points(card: Locator, kind: str) -> int:
    return int(card.locator(f'.chart-plot[data-kind="{kind}"]').get_attribute("data-points") or 0)


def test_devices_waiting_to_pair_are_listed(
    live_hub: LiveHub, page: Page, simulators: dict[str, Simulator]
) -> None:
    page.goto(live_hub.url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="How can I help?")).to_be_visible()
    for simulator in simulators.values():
        simulator.code()
    page.get_by_role("link", name="Devices").click()
    expect(page.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
    waiting = page.locator("section", has=page.get_by_role("heading", name="Waiting to pair"))
    for device_id in (WATCH, CGM):
        card = waiting.locator(f'.device-card[data-id="{device_id}"]')
        expect(card).to_be_visible()
        expect(card.locator(".badge")).to_have_text("Waiting to pair")
    expect(device_card(page, WATCH)).to_contain_text("Watch · SimWatch 1")
    expect(device_card(page, CGM)).to_contain_text("Glucose monitor · SimCGM 1")
    expect(page.locator(".live")).to_contain_text("Live")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-devices-waiting-desktop-light.png"))


def test_a_wrong_code_is_refused_and_the_right_one_pairs(
    live_hub: LiveHub, page: Page, simulators: dict[str, Simulator]
) -> None:
    code = simulators[WATCH].code()
    wrong = "000000" if code != "000000" else "111111"
    card = device_card(page, WATCH)
    card.get_by_role("textbox").fill(wrong)
    card.get_by_role("button", name="Pair").click()
    expect(card.get_by_role("alert")).to_contain_text(f"wrong code for '{WATCH}'")
    expect(card.get_by_role("alert")).to_contain_text("4 tries left")
    # The code box keeps the focus through the page's polls, to type the code again.
    expect(card.get_by_role("textbox")).to_be_focused()
    updated = page.locator(".live-time")
    expect(updated).not_to_have_text(updated.inner_text())  # a later poll has redrawn the card
    expect(card.get_by_role("textbox")).to_be_focused()
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 375, "height": 812})
    # The sidebar's slide away is finished for the picture instead of waited for.
    page.screenshot(
        path=str(ARTIFACTS / "web-devices-wrong-code-phone-dark.png"), animations="disabled"
    )
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    card.get_by_role("textbox").fill("12")
    card.get_by_role("button", name="Pair").click()
    expect(card.get_by_role("alert")).to_have_text("Enter the 6-digit code the device shows.")

    card.get_by_role("textbox").fill(code)
    card.get_by_role("button", name="Pair").click()
    paired = page.locator("section", has=page.get_by_role("heading", name="Paired"))
    expect(paired.locator(f'.device-card[data-id="{WATCH}"] .badge')).to_have_text("Connected")
    cgm = device_card(page, CGM)
    cgm.get_by_role("textbox").fill(simulators[CGM].code())
    cgm.get_by_role("button", name="Pair").click()
    expect(paired.locator(f'.device-card[data-id="{CGM}"] .badge')).to_have_text("Connected")
    listed = {d["id"]: d for d in live_hub.api("GET", "/v1/devices").json()["data"]}
    assert listed[WATCH]["status"] == listed[CGM]["status"] == "paired"
    assert page.errors == []  # type: ignore[attr-defined]


def test_live_charts_grow_while_data_arrives(live_hub: LiveHub, page: Page) -> None:
    for device_id, kind in ((WATCH, "heart_rate"), (CGM, "glucose")):
        card = device_card(page, device_id)
        first = wait_until(lambda: points(card, kind), f"{kind} points", timeout=60)  # noqa: B023
        wait_until(lambda: points(card, kind) > first, f"more {kind} points")  # noqa: B023
        expect(card.locator(".chart-value")).to_contain_text(
            "bpm" if kind == "heart_rate" else "mg/dL"
        )
        expect(card.locator(".chart-line")).to_be_visible()
        samples = live_hub.api("GET", f"/v1/devices/{device_id}/samples?kind={kind}").json()
        assert samples["data"], f"the hub stored no {kind}"
    watch = device_card(page, WATCH)
    # Labels and the glucose target band come from the hub's kind table (GET /v1/devices/kinds).
    expect(device_card(page, CGM).locator(".chart-band")).to_have_count(1)
    expect(watch.locator(".chart-band")).to_have_count(0)
    expect(watch.locator(".device-facts")).to_contain_text("SpO₂")
    expect(watch.locator(".device-facts")).to_contain_text("heart rate")
    expect(watch.locator(".device-facts")).to_contain_text("Last seen just now")
    # Ten minutes of raw readings instead of one-minute rollups.
    page.get_by_role("button", name="10 min").click()
    expect(page.get_by_role("button", name="10 min")).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: points(watch, "heart_rate") > 60, "raw heart-rate readings")
    page.get_by_role("button", name="1 hour").click()
    expect(page.get_by_role("button", name="1 hour")).to_have_attribute("aria-pressed", "true")
    assert page.errors == []  # type: ignore[attr-defined]


def test_screenshots_of_the_devices_page(live_hub: LiveHub, page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, width, height in (("phone", 375, 812), ("desktop", 1280, 800)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(live_hub.url + "/#/devices")
            page.reload()
            # Enough points for a picture that shows the curves (counted on the freshly loaded
            # hour, not on what was drawn before), and a battery report from the watch.
            cgm = device_card(page, CGM)
            wait_until(lambda: points(cgm, "glucose") >= 40, "40 glucose minutes")  # noqa: B023
            expect(cgm.locator(".chart-line")).to_be_visible()
            expect(device_card(page, WATCH).locator(".chart-line")).to_be_visible()
            expect(device_card(page, WATCH).locator(".device-facts")).to_contain_text("Battery")
            expect(page.locator(".live")).to_contain_text("Live")
            page.screenshot(
                path=str(ARTIFACTS / f"web-devices-{name}-{scheme}.png"), full_page=True
            )
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    watch = device_card(page, WATCH)
    expect(watch.locator(".chart-line")).to_be_visible()
    expect(watch.locator(".device-facts")).to_contain_text("Battery")
    watch.screenshot(path=str(ARTIFACTS / "web-devices-watch-card-desktop-light.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_revoking_asks_first_then_cuts_the_device_off(live_hub: LiveHub, page: Page) -> None:
    card = device_card(page, CGM)
    card.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Revoke {CGM}?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(card.locator(".badge")).to_have_text("Connected")
    card.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(card.locator(".badge")).to_have_text("Revoked")
    expect(card.get_by_role("button", name="Revoke")).to_be_hidden()
    listed = {d["id"]: d for d in live_hub.api("GET", "/v1/devices").json()["data"]}
    assert listed[CGM]["status"] == "revoked" and listed[CGM]["connected"] is False
    assert listed[WATCH]["status"] == "paired"
    expect(device_card(page, WATCH).locator(".badge")).to_have_text("Connected")
    assert page.errors == []  # type: ignore[attr-defined]
