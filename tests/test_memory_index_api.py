"""GET /v1/memory/status says how search by meaning is served."""

from __future__ import annotations

import httpx

from tests.hub_process import HubProcess


def test_status_says_how_search_by_meaning_is_served(hub: HubProcess) -> None:
    created = httpx.post(
        f"{hub.base_url}/v1/memory",
        headers=hub.headers(),
        json={"text": "The bike lock code is the year grandma was born."},
        timeout=120,
    )
    assert created.status_code == 200, created.text
    status = httpx.get(f"{hub.base_url}/v1/memory/status", headers=hub.headers(), timeout=120)
    index = status.json()["index"]
    # A small store is scanned exactly; every vector is found by meaning at once.
    assert index["mode"] == "exact" and index["error"] is None
    assert index["searchable"] == index["total"] >= 1 and index["built"] == 0
