"""Which chat messages become memories: statements the person made, not questions or small talk."""

from __future__ import annotations

import re

# A question asks for memory; storing it would only make later prompts longer with old questions.
QUESTION_START = re.compile(
    r"^\s*(what|when|where|who|whom|whose|why|how|which|do|does|did|is|are|was|were|can|could|"
    r"would|will|should|shall|may|might|have|has|had|am|tell me|remind me|show me|list)\b",
    re.IGNORECASE,
)
SMALL_TALK = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|ok|okay|yes|no|sure|cool|great|bye|good night)\b[\s!.]*$",
    re.IGNORECASE,
)
MIN_WORDS = 3


def is_question(said: str) -> bool:
    """True when the message asks something rather than tells something."""
    text = said.strip()
    return text.endswith("?") or bool(QUESTION_START.match(text))


def worth_remembering(said: str) -> bool:
    """True for a statement of at least a few words; questions and greetings are not kept."""
    text = said.strip()
    if len(text.split()) < MIN_WORDS or SMALL_TALK.match(text):
        return False
    return not is_question(text)
