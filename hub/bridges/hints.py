"""What a person enters in an app to point it at a new bridge: addresses and the secret."""

from __future__ import annotations


def setup_hints(kind: str, base_url: str, secret: str) -> list[str]:
    """Lines telling a person how to set up an app of ``kind`` against the hub at ``base_url``
    (such as ``http://mini-pc.local:8080``); shown once, with the secret."""
    base = base_url.rstrip("/")
    scheme, _, host = base.partition("://")
    if kind == "nightscout":
        return [
            f"Nightscout URL: {base}/",
            f"API secret: {secret}",
            "xDrip+: Settings > Cloud Upload > Nightscout Sync (REST-API): enable it, Base URL "
            f"{scheme}://{secret}@{host}/api/v1/",
            "Juggluco and other uploaders: the Nightscout URL and API secret above",
            f"Check: {base}/api/v1/status.json?token={secret} answers status ok",
        ]
    if kind == "health-auto-export":
        url = f"{base}/bridges/health-auto-export"
        return [
            f"Health Auto Export > Automations > new REST API automation, URL: {url}",
            f"Header: Authorization = Bearer {secret} (or the URL {url}?token={secret})",
            "Export Format: JSON; Data Type: Health Metrics (Heart Rate, Step Count, Blood "
            "Glucose, Blood Oxygen Saturation); Period: Since Last Sync",
        ]
    return [f"Secret: {secret}"]
