"""The gate: promote an adapter only if better for the person and not worse in general."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from adapters.config import GateMargins
from adapters.evaluate import Metrics


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, and why, in words a person can read."""

    passed: bool
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def decide(candidate: Metrics, current: Metrics, margins: GateMargins) -> GateDecision:
    """Compare the candidate with what is served now (the active adapter, or the bare base)."""
    reasons: list[str] = []
    passed = True
    if math.isnan(candidate.personal_loss) or math.isnan(current.personal_loss):
        passed = False
        reasons.append("no held-out personal questions to judge by; add more data")
    else:
        needed = current.personal_loss * (1 - margins.personal_min_improvement)
        ok = candidate.personal_loss <= needed
        passed &= ok
        reasons.append(
            f"personal loss {candidate.personal_loss:.3f} vs {current.personal_loss:.3f} "
            f"(needs ≤ {needed:.3f}): {'better' if ok else 'not better enough'}"
        )
    for label, new, old in (
        ("general perplexity", candidate.general_perplexity, current.general_perplexity),
        (
            "general questions perplexity",
            math.exp(candidate.general_questions_loss),
            math.exp(current.general_questions_loss),
        ),
    ):
        allowed = old * (1 + margins.general_max_regression)
        ok = new <= allowed
        passed &= ok
        reasons.append(
            f"{label} {new:.2f} vs {old:.2f} (allowed ≤ {allowed:.2f}): "
            f"{'kept' if ok else 'too much worse'}"
        )
    return GateDecision(passed, reasons)
