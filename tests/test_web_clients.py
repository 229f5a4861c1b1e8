"""Settings, Client programs, in a real browser (Debian's headless Chromium): add a client, see
its credential once, see it used, revoke it (fast: fake model, the real app behind uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.test_web_hardening import hub_app, hub_settings, served

PASSPHRASE = "client programs only"


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("web-clients") / "data"
    with served(hub_app(data_dir), hub_settings(data_dir)) as url:
        yield url


def test_add_a_client_see_its_credential_once_and_revoke_it(web_url: str, page: Page) -> None:
    page.goto(web_url)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-confirm", PASSPHRASE)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Settings").click()
    section = page.get_by_role("region", name="Client programs")
    expect(section).to_contain_text("No client programs yet.")
    page.fill("#client-name", "open-webui")
    section.get_by_role("checkbox", name="memory:read").check()
    section.get_by_role("button", name="Add").click()
    made = section.locator(".client-made")
    expect(made).to_contain_text("not shown again")
    url = made.locator(".client-secret").first.inner_text()
    assert url.startswith(f"{web_url}/c/wnc_") and url.endswith("/")
    credential = url.removeprefix(f"{web_url}/c/").rstrip("/")
    expect(made.locator(".client-secret").nth(1)).to_have_text(
        f"Authorization: Bearer {credential}"
    )
    row = section.locator(".client-row", has_text="open-webui")
    expect(row).to_contain_text("chat, memory:read")
    expect(row).to_contain_text("last seen never")

    assert httpx.get(f"{url}api/tags", timeout=120).status_code == 200
    page.reload()
    row = page.get_by_role("region", name="Client programs").locator(".client-row")
    expect(row).not_to_contain_text("last seen never")
    assert credential not in page.content()  # shown once, never again

    row.get_by_role("button", name="Revoke open-webui").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    section = page.get_by_role("region", name="Client programs")
    expect(section).to_contain_text("No client programs yet.")
    assert httpx.get(f"{url}api/tags", timeout=120).status_code == 401
    assert not page.errors  # type: ignore[attr-defined]
