"""What a person enters in an app to point it at a new bridge: addresses and the secret."""

from __future__ import annotations


def setup_hints(kind: str, base_url: str, secret: str) -> list[str]:
    """Lines telling a person how to set up an app of ``kind`` against the hub at ``base_url``
    (such as ``http://mini-pc.local:8080``); shown once, with the secret."""
    base = base_url.rstrip("/")
    scheme, _, host = base.partition("://")
    if kind in ("nightscout", "health-auto-export"):
        hints = {
            "nightscout": [
                f"Nightscout URL: {base}/",
                f"API secret: {secret}",
                f"xDrip+ (Cloud Upload, Nightscout Sync REST-API) base URL: "
                f"{scheme}://{secret}@{host}/api/v1/",
            ],
            "health-auto-export": [
                f"REST API automation URL: {base}/bridges/health-auto-export?token={secret}",
                "Export format: JSON; Data type: Health Metrics.",
            ],
        }
        return hints[kind]
    if kind == "omi":
        # Omi appends its own query (?uid=...) to each URL: the secret goes in the path.
        omi = f"{base}/bridges/omi/{secret}"
        return [
            "In the Omi app: Settings, Developer Mode on, Developer Settings (Omi's servers call "
            "these: the hub must be reachable from the internet, see the README):",
            f"Audio Bytes Webhook (every 5 seconds): {omi}/audio,5",
            f"Real-Time Transcript Webhook: {omi}/transcript",
            f"Memory Creation Webhook: {omi}/conversation",
            f"Day Summary Webhook: {omi}/day-summary",
        ]
    return [f"Secret: {secret}"]
