"""Where the CLI looks for the running hub: the address `hub serve` records, else the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.running_address import RunningAddress, local_url, read_running_address, running_file
from hub.settings import Settings


@dataclass(frozen=True)
class HubLocation:
    """The URL to try, and the address file it came from (if any) with whether its hub lives."""

    url: str
    record_path: Path
    record: RunningAddress | None = None
    record_alive: bool = False

    @property
    def stale(self) -> bool:
        """True when the address file names a hub process that is gone (it crashed)."""
        return self.record is not None and not self.record_alive

    def stale_note(self) -> str:
        """Why the address file was set aside."""
        pid = self.record.pid if self.record else "?"
        return (
            f"{self.record_path} is stale: the hub it names (pid {pid}, at {self.url}) "
            "is gone, e.g. after a crash"
        )

    def absence(self) -> str:
        """Why no hub answered, and what to do about it."""
        if self.record is None:
            return (
                f"no hub answers at {self.url} (no hub has recorded its address in "
                f"{self.record_path.parent}); start it with `hub serve`"
            )
        if self.stale:
            return (
                f"no hub is running: {self.stale_note()}; start it with `hub serve`, "
                "which replaces the file"
            )
        return (
            f"no hub answers at {self.url}, where {self.record_path} says the hub (pid "
            f"{self.record.pid}) listens: it may still be starting (try again in a moment), "
            "or be stuck (see its log, or restart it)"
        )


def configured_location(settings: Settings) -> HubLocation:
    """The address the settings name (host, port), ignoring any address file."""
    return HubLocation(local_url(settings.host, settings.port), running_file(settings.data_dir))


def locate_hub(settings: Settings) -> HubLocation:
    """The address the running hub recorded in the data directory, else the settings' one."""
    record = read_running_address(settings.data_dir)
    if record is None:
        return configured_location(settings)
    return HubLocation(record.url, running_file(settings.data_dir), record, record.is_alive())
