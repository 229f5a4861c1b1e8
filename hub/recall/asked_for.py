"""What a question asks for (a time, an amount, anything else) and whether a memory holds it.

"When does the postie go by?" is answered by a note with a clock time, not by one that only
shares the word "post"; "How many ewes?" by one with a number. The hub uses this to choose which
memory to give the model and, when the model's answer drew on none, which to answer with.
"""

from __future__ import annotations

import re

MONTHS = (  # noqa: SIM905
    "january february march april may june july august september october november december"
).split()

# What a question asks for: a time ("when", "what time", "by when") or an amount ("how many").
_ASKS_TIME = re.compile(
    r"\b(?:when|what time|what date|what day|which day|which date|what year|which year)\b", re.I
)
_ASKS_AMOUNT = re.compile(
    r"\bhow (?:many|much|far|long|old|tall|heavy|big)\b"
    r"|\b(?:what|which)(?: \w+)? (?:number|code|dose|size|amount|pin)\b",
    re.I,
)
# A time told exactly (a clock time, a date, a month, a year) or only roughly (a weekday, a part
# of the day).
_EXACT_TIME = re.compile(
    r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2} ?(?:am|pm)\b|\b(?:19|20)\d{2}\b|\bnoon\b|\bmidnight\b"
    r"|\b\d{1,2} may\b|\bmay \d{1,2}\b|\b(?:"  # "may" is a month only beside a day
    + "|".join(month for month in MONTHS if month != "may")
    + r")\b",
    re.I,
)
_ROUGH_TIME = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
    r"|\b(?:morning|afternoon|evening|night|weekend|weekday|workday)s?\b|\bevery\b",
    re.I,
)
_DIGIT = re.compile(r"\d")


def holds_what_is_asked(question: str, memory: str) -> int:
    """How well ``memory`` holds what ``question`` asks for: 2 exactly (a clock time or date
    for "when", a number for "how many"), 1 roughly (a weekday for "when"), 0 not at all."""
    if _ASKS_TIME.search(question):
        return 2 if _EXACT_TIME.search(memory) else 1 if _ROUGH_TIME.search(memory) else 0
    if _ASKS_AMOUNT.search(question):
        return 2 if _DIGIT.search(memory) else 0
    return 2
