"""The gate: promote an adapter only if it answers more of the person's questions and is not
much worse in general."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from adapters.config import GateMargins
from adapters.evaluate import Metrics

# One more right answer is enough. Both models answer the same held-out questions greedily, so
# a difference is in the answers, not in sampling luck; a day's data holds out only a handful of
# questions, where any relative margin would either be one question anyway or refuse real
# progress; and the general-ability bounds below limit what a lucky adapter could cost.
MIN_MORE_ANSWERS = 1


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, and why, in words a person can read."""

    passed: bool
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def _questions(count: int) -> str:
    return f"{count} held-out question{'' if count == 1 else 's'}"


def decide(candidate: Metrics, current: Metrics, margins: GateMargins) -> GateDecision:
    """Compare the candidate with what is served now (the active adapter, or the bare base).

    Promotion needs more held-out personal questions answered right than now, with general
    perplexity and the general questions within ``margins.general_max_regression``; the
    held-out personal loss is reported, not judged (a lower loss did not mean right answers).
    """
    reasons: list[str] = []
    passed = True
    if candidate.questions == 0:
        passed = False
        reasons.append("no held-out personal questions to judge by; add more data")
    else:
        needed = current.answered + MIN_MORE_ANSWERS
        ok = candidate.answered >= needed
        passed &= ok
        reasons.append(
            f"answers {candidate.answered} of {_questions(candidate.questions)}, against "
            f"{current.answered} now: {'better' if ok else 'not better'}"
        )
    if not (math.isnan(candidate.personal_loss) or math.isnan(current.personal_loss)):
        reasons.append(
            f"personal loss {candidate.personal_loss:.3f} vs {current.personal_loss:.3f} "
            "(shown, not judged)"
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
