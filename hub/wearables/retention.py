"""Raw samples and media are kept for a retention period after they reached the hub (never by
the device's own clock, which may say any time); rollups outlive them."""

from __future__ import annotations

import asyncio
import logging

from hub.wearables.store import DeviceStore

logger = logging.getLogger(__name__)

DAY = 86_400.0
PRUNE_EVERY_S = 3600.0


async def prune_forever(store: DeviceStore, retention_days: float) -> None:
    """Every hour, delete raw samples and media received longer ago than the retention period."""
    while True:
        try:
            removed = await asyncio.to_thread(store.prune, store.clock() - retention_days * DAY)
            if removed:
                logger.info("retention: removed %d raw samples and media frames", removed)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("retention pass failed; trying again in an hour")
        await asyncio.sleep(PRUNE_EVERY_S)
