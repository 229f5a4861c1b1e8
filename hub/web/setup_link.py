"""The one-time setup link, kept in the data directory (owner-only) instead of the logs."""

from __future__ import annotations

from pathlib import Path

from memory.durable_files import write_atomically

SETUP_LINK_FILE_NAME = "setup_link"


class SetupLinkFile:
    """Where `hub serve` leaves the setup link for `hub setup-link`; gone once it is used."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SETUP_LINK_FILE_NAME

    def write(self, link: str) -> None:
        """Keep ``link`` (mode 0600: whoever holds it may choose the passphrase)."""
        write_atomically(self.path, link + "\n")

    def read(self) -> str | None:
        """The link, or None when no hub waits for a first passphrase."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def remove(self) -> None:
        """Forget the link (it was used, or its hub stopped)."""
        self.path.unlink(missing_ok=True)
