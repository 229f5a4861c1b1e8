"""Devices, Add a bridge, in a real browser (Debian's headless Chromium): add a Nightscout bridge,
see its secret and setup lines once, have an xDrip+-shaped upload reach it, see it listed with
its kind, name, last sent and glucose chart, and revoke it (fast: fake model, the real app
behind uvicorn)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.imports_support import write_clarity
from tests.test_nightscout_api import xdrip_sgv
from tests.test_web_hardening import hub_app, hub_settings, served
from tests.test_web_ui import ARTIFACTS

PASSPHRASE = "bridges on the devices page"
READINGS = 12


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("web-bridges") / "data"
    with served(hub_app(data_dir), hub_settings(data_dir)) as url:
        yield url


def test_add_a_bridge_see_its_upload_charted_and_revoke_it(web_url: str, page: Page) -> None:
    page.goto(web_url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Devices").click()
    form = page.get_by_role("form", name="Add a bridge")
    expect(form).to_be_visible()
    form.get_by_label("App or device").select_option("nightscout")
    form.get_by_label("Name").fill("xDrip phone")
    form.get_by_role("button", name="Add bridge").click()

    made = page.locator(".bridge-made")
    expect(made).to_contain_text("not shown again")
    secret = made.locator(".client-secret-row", has_text="API secret").locator("code").inner_text()
    xdrip = made.locator(".client-secret-row", has_text="xDrip+ Base URL").locator("code")
    expect(xdrip).to_have_text(f"http://{secret}@{web_url.removeprefix('http://')}/api/v1/")

    bridges = page.locator("section", has=page.get_by_role("heading", name="Bridges"))
    card = bridges.locator(".device-card.bridge")
    expect(card.locator(".device-name")).to_have_text("xDrip phone")
    expect(card.locator(".device-meta")).to_contain_text("Nightscout uploader")
    expect(card).to_contain_text("Nothing sent yet")
    expect(card).not_to_contain_text("Battery")

    now_ms = int(time.time() * 1000) - 60_000
    upload = [xdrip_sgv(now_ms - k * 300_000, 110 + k) for k in range(READINGS)]
    sent = httpx.post(
        f"{web_url}/api/v1/entries",
        json=upload,
        headers={"api-secret": hashlib.sha1(secret.encode()).hexdigest()},
        timeout=60,
    )
    assert sent.status_code == 200 and sent.headers["X-Hub-Stored"] == str(READINGS)

    expect(card.locator('.chart-plot[data-kind="glucose"]')).to_have_attribute(
        "data-points", str(READINGS)
    )
    expect(card.locator(".badge")).to_have_text("Sending")
    expect(card.locator(".device-facts")).to_contain_text("Last sent")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-bridges-desktop.png"), full_page=True)

    page.reload()
    expect(page.locator(".device-card.bridge .device-name")).to_have_text("xDrip phone")
    assert secret not in page.content()  # shown once, never again

    page.locator(".device-card.bridge").get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator(".device-card.bridge .badge")).to_have_text("Revoked")
    again = httpx.post(
        f"{web_url}/api/v1/entries", json=upload, headers={"api-secret": secret}, timeout=60
    )
    assert again.status_code == 401
    assert not page.errors  # type: ignore[attr-defined]


def test_import_a_file_and_see_what_it_came_to(web_url: str, page: Page, tmp_path: Path) -> None:
    days = [(f"2024-06-0{d}T{h:02d}:00:00", str(100 + h)) for d in (1, 2) for h in range(24)]
    export = write_clarity(tmp_path / "CLARITY_Export.csv", days)
    page.goto(web_url)
    if page.locator("#passphrase-confirm").count():
        page.fill("#passphrase", PASSPHRASE)
        page.fill("#passphrase-confirm", PASSPHRASE)
        page.click("button[type=submit]")
    elif page.locator("#passphrase").count():
        page.fill("#passphrase", PASSPHRASE)
        page.click("button[type=submit]")
    page.get_by_role("link", name="Devices").click()
    form = page.get_by_role("form", name="Import a file")
    form.get_by_label("Exported from").select_option("dexcom-clarity")
    form.get_by_label("File", exact=True).set_input_files(str(export))
    form.get_by_label("Time zone of local times").fill("UTC")
    form.get_by_label("Dry run (store nothing)").check()
    form.get_by_role("button", name="Import").click()
    verdict = page.locator(".import-verdict")
    expect(verdict).to_have_text(
        "Dexcom Clarity CSV export: Dry run: 48 of 48 readings would be added."
    )
    form.get_by_label("Dry run (store nothing)").uncheck()
    form.get_by_role("button", name="Import").click()
    expect(verdict).to_have_text("Dexcom Clarity CSV export: Stored 48 new readings of 48.")
    expect(page.locator(".import-kinds")).to_contain_text("glucose: 48 readings")
    card = page.locator(".device-card.bridge", has_text="Dexcom Clarity CSV export")
    expect(card.locator(".device-meta")).to_contain_text("Dexcom Clarity CSV export")
    form.get_by_role("button", name="Import").click()
    expect(verdict).to_have_text("Dexcom Clarity CSV export: Stored 0 new readings of 48.")
    broken = tmp_path / "broken.csv"
    broken.write_text(export.read_text(encoding="utf-8-sig").replace("2024-06-02T05", "soon"))
    form.get_by_label("File", exact=True).set_input_files(str(broken))
    form.get_by_role("button", name="Import").click()
    expect(page.locator(".import-card .form-error")).to_contain_text("broken.csv: line ")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-imports-desktop.png"), full_page=True)
    assert not page.errors  # type: ignore[attr-defined]
