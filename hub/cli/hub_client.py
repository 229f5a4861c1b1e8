"""Talk to a running hub from the command line, with the token read from the data directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from hub.cli.hub_location import HubLocation, locate_hub
from hub.datadir import read_owner_token
from hub.settings import Settings


class HubRequestError(RuntimeError):
    """The running hub refused a request; the message is the hub's own."""


class HubClient:
    """A small synchronous client for the hub's own API, at the address the hub recorded."""

    def __init__(
        self, settings: Settings, timeout: float = 600.0, location: HubLocation | None = None
    ) -> None:
        self.location = location or locate_hub(settings)
        self.base_url = self.location.url
        token = read_owner_token(settings.data_dir) or ""
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=2.0),
            headers={"Authorization": f"Bearer {token}"},
        )

    def is_running(self) -> bool:
        """True when a hub answers /health at its recorded address (else at the settings')."""
        if self.location.stale:
            return False  # its process is gone: asking could only time out or reach another one
        try:
            return self._client.get("/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise HubRequestError(f"the hub answered {response.status_code}: {message}")
        body: dict[str, Any] = response.json()
        return body

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request to the hub's API and return its JSON answer."""
        return self._check(self._client.request(method, path, **kwargs))

    def call_text(self, method: str, path: str) -> str:
        """Send one request and return the answer's text (for JSON-lines exports)."""
        response = self._client.request(method, path)
        if response.status_code >= 400:
            self._check(response)
        return response.text

    def use_model(self, name: str) -> dict[str, Any]:
        """Switch the running hub's active model."""
        return self._check(self._client.put("/v1/models/active", json={"model": name}))

    def stream_chat(self, payload: dict[str, Any]) -> Iterator[str]:
        """Yield the answer's text pieces as the hub streams them."""
        with self._client.stream(
            "POST", "/v1/chat/completions", json={**payload, "stream": True}
        ) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    raise HubRequestError(event["error"]["message"])
                for choice in event.get("choices", []):
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield piece

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
