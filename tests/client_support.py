"""Client credentials for tests that talk to a real hub as another program would."""

from __future__ import annotations

import httpx

from tests.hub_process import HubProcess


def make_client(hub: HubProcess, name: str, scopes: list[str]) -> str:
    """A client credential the owner made through the REST API."""
    made = httpx.post(
        f"{hub.base_url}/v1/clients",
        json={"name": name, "scopes": scopes},
        headers=hub.headers(),
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["credential"])
