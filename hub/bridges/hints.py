"""What a person enters in an app to point it at a new bridge: addresses and the secret."""

from __future__ import annotations


def setup_hints(kind: str, base_url: str, secret: str) -> list[str]:
    """Lines telling a person how to set up an app of ``kind`` against the hub at ``base_url``
    (such as ``http://mini-pc.local:8080``); shown once, with the secret."""
    base = base_url.rstrip("/")
    scheme, _, host = base.partition("://")
    # Each line is "what: value", the value to copy (the Devices page offers a Copy button for
    # it); a line without ": " is advice.
    if kind == "nightscout":
        return [
            f"Nightscout URL: {base}/",
            f"API secret: {secret}",
            "xDrip+ Base URL (Settings > Cloud Upload > Nightscout Sync (REST-API)): "
            f"{scheme}://{secret}@{host}/api/v1/",
            "Juggluco and other uploaders take the Nightscout URL and API secret above",
            f"Check in a browser (it answers status ok): {base}/api/v1/status.json?token={secret}",
        ]
    if kind == "health-auto-export":
        url = f"{base}/bridges/health-auto-export"
        return [
            f"REST API URL (Health Auto Export > Automations > new REST API automation): {url}",
            f"Header Authorization: Bearer {secret}",
            f"Or, without the header, the URL: {url}?token={secret}",
            "Export Format JSON, Data Type Health Metrics (Heart Rate, Step Count, Blood Glucose, "
            "Blood Oxygen Saturation), Period Since Last Sync",
        ]
    if kind == "omi":
        # Omi appends its own query (?uid=...) to each URL: the secret goes in the path.
        omi = f"{base}/bridges/omi/{secret}"
        return [
            "In the Omi app open Settings, turn Developer Mode on, open Developer Settings (Omi's "
            "servers call these URLs, so the hub must be reachable from the internet; see the "
            "README)",
            f"Audio Bytes Webhook (every 5 seconds): {omi}/audio,5",
            f"Real-Time Transcript Webhook: {omi}/transcript",
            f"Memory Creation Webhook: {omi}/conversation",
            f"Day Summary Webhook: {omi}/day-summary",
        ]
    return [f"Secret: {secret}"]
