"""The housekeeping policy in effect: what the person saved on the Memory page, else hub.toml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from hub.settings import Settings
from memory.housekeeping_types import HOUSEKEEPING_KINDS, Action, Policy

Origin = Literal["settings", "saved"]


@dataclass(frozen=True)
class EffectivePolicy:
    """One kind's policy and where it came from."""

    policy: Policy
    origin: Origin


def parse_policy(kind: str, text: str) -> Policy:
    """``keep``, ``summarize:N`` or ``delete:N`` (the settings' form) as a Policy."""
    action, _, days = text.partition(":")
    return Policy(kind, cast(Action, action), int(days) if days else Policy.after_days)


def settings_policies(settings: Settings) -> dict[str, Policy]:
    """The policy per kind hub.toml and HUB_ variables give."""
    return {
        "transcript": parse_policy("transcript", settings.memory_housekeeping_transcript),
        "image_text": parse_policy("image_text", settings.memory_housekeeping_image_text),
    }


def effective_policies(settings: Settings, saved: dict[str, Policy]) -> list[EffectivePolicy]:
    """Every housekeeping kind's policy: the saved one where there is one."""
    configured = settings_policies(settings)
    return [
        EffectivePolicy(saved[kind], "saved")
        if kind in saved
        else EffectivePolicy(configured[kind], "settings")
        for kind in HOUSEKEEPING_KINDS
    ]
