"""Read a one-sentence fact or note into its parts: who it is about, the verb, the phrases after.

A shallow, rule-based reading (no tagger): the subject runs up to the first word that is a verb
form agreeing with it, and what follows the verb is cut into chunks at prepositions, commas,
"every" and "called"/"named". Each chunk gets the kind of answer it holds (a place, a time, a
date, a number, a person, a name or a thing), which decides the word a question asks it with.
A note in the imperative ("Call Ana about the drill") reads as something the person has to do;
"Shopping list: ..." keeps its label. What the rules cannot read gives no frame, and the
question generator falls back to general questions for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from adapters.lexicon import (
    ADVERBS,
    DAY_PARTS,
    IRREGULAR_FORMS,
    MONTHS,
    MOTION_VERBS,
    NUMBER_WORDS,
    PARTICIPLES,
    PAST_PARTICIPLES,
    PERSON_ROLES,
    PERSON_VERBS,
    PREPOSITIONS,
    VERBS,
    WEEKDAYS,
)

_CONTRACTIONS = {
    "i'm": ["I", "am"],
    "i've": ["I", "have"],
    "we're": ["we", "are"],
    "we've": ["we", "have"],
    "it's": ["it", "is"],
    "he's": ["he", "is"],
    "she's": ["she", "is"],
    "they're": ["they", "are"],
}
PRONOUNS = frozenset({"i", "we", "he", "she", "they", "it", "you"})
_PARTICIPLE_BASES = {form: base for base, form in PAST_PARTICIPLES.items()}
_PLURAL_PRONOUNS = frozenset({"i", "we", "they", "you"})
_SUBJECT_START = frozenset({"i", "we", "my", "our", "he", "she", "they"})
_DETERMINERS = frozenset({"a", "an", "the", "my", "our", "your", "his", "her", "their"})
_PARTICLES = frozenset({"up", "out", "off", "after", "back", "down", "over", "away"})
_NAME_MARKERS = frozenset({"called", "named"})
# Words that say a number is rough ("about 3,200 ewes"): part of the number, not a preposition.
_APPROXIMATE = frozenset({"about", "around", "roughly", "nearly", "almost"})
# Words that open a relative clause after a name ("a tortoise called Periklis who lives ...").
_RELATIVE = frozenset({"who", "which", "that"})
# A later clause's subject that stands for something an earlier clause named.
_REFERRING = frozenset({"he", "she", "it"})
# Words that open a chunk of their own without being a preposition.
_STARTERS = frozenset({"every", "each", "twice", "once", "when", "whenever", "while", "because"})
_CONJUNCTIONS = frozenset({"so", "and", "but"})
_TIME = re.compile(r"^\d{1,2}[:h]\d{2}$|^\d{1,2}(am|pm)$|^(am|pm|o'clock|noon|midnight)$", re.I)
_DIGITS = re.compile(r"\d")
_YEAR = re.compile(r"^(19|20)\d{2}$")
_PLACE_PREPS = frozenset(
    {
        "in",
        "at",
        "near",
        "outside",
        "inside",
        "along",
        "into",
        "behind",
        "next to",
        "opposite",
        "beside",
        "around",
        "across",
        "through",
        "from",
        "on",
        "by",
        "under",
        "above",
        "over",
    }
)


@dataclass(frozen=True)
class Chunk:
    """A phrase after the verb: ``prep`` ("in", or "" for an object), its words, its kind."""

    prep: str
    words: tuple[str, ...]
    kind: str  # "place", "time", "date", "number", "person", "name" or "thing"

    @property
    def text(self) -> str:
        """The phrase as the fact says it."""
        return " ".join(([self.prep] if self.prep else []) + list(self.words))

    @property
    def phrase(self) -> str:
        """The words without the preposition ("the Campanhã pool")."""
        words = list(self.words)
        if words and words[0] in ("The", "A", "An"):
            words[0] = words[0].lower()
        return " ".join(words)

    @property
    def core(self) -> str:
        """The answer-bearing words: no preposition, article, "every" or possessive."""
        words = list(self.words)
        while len(words) > 1 and words[0].lower() in (
            *_DETERMINERS,
            *_APPROXIMATE,
            "every",
            "each",
        ):
            words = words[1:]
        return " ".join(words)


@dataclass(frozen=True)
class Frame:
    """One clause: subject, verb group and chunks."""

    subject: tuple[str, ...]  # ("my", "sister", "Oriana"), ("I",)
    head: str  # the subject's noun ("sister", "birthday"), "" for a pronoun or a bare name
    name: str  # a proper name in the subject ("Oriana"), or ""
    plural: bool  # takes "do"/"are" rather than "does"/"is"
    verb: tuple[str, ...]  # the verb group as said: ("was", "born"), ("wake", "up")
    lemma: str  # the main verb's base form: "be" for "was born", "live" for "lives"
    past: bool
    state: str  # after "be"/"get": a participle, adjective or -ing form ("born", "allergic")
    particle: str  # "up" in "wake up"
    chunks: tuple[Chunk, ...]
    imperative: bool = False  # a note to self: "Call Ana" is "I need to call Ana"
    perfect: bool = False  # "I've donated": verb ("have", "donated"), lemma "donate"

    @property
    def subject_text(self) -> str:
        """The subject as it stands inside a question ("my sister Oriana", "I")."""
        words = list(self.subject)
        if words and words[0] != "I" and words[0].lower() in _DETERMINERS | PRONOUNS:
            words[0] = words[0].lower()
        return " ".join(words)

    @property
    def first_person(self) -> bool:
        """Whether the clause is about the person ("I", "my", "our", "we")."""
        return bool(self.subject) and self.subject[0].lower() in ("i", "we", "my", "our")


@dataclass(frozen=True)
class Reading:
    """A fact read into clauses, with a note's label ("Shopping list") if it has one."""

    frames: list[Frame] = field(default_factory=list)
    label: str = ""
    content: str = ""  # what follows the label


def tokenize(text: str) -> list[str]:
    """Words with contractions opened and commas, semicolons and a label's colon on their own."""
    text = " ".join(text.replace("\u2019", "'").split()).rstrip(".!? ")
    text = re.sub(r"([,;])(?=\s|$)", r" \1 ", text)
    text = re.sub(r":(?=\s)", " : ", text)
    words: list[str] = []
    for raw in text.split():
        words.extend(_CONTRACTIONS.get(raw.lower(), [raw]))
    return words


def base_form(word: str) -> str | None:
    """The base form of a known verb form ("lives" -> "live", "grew" -> "grow"), else None."""
    low = word.lower()
    if low in IRREGULAR_FORMS:
        return IRREGULAR_FORMS[low]
    candidates = [low]
    if low.endswith("ies") or low.endswith("ied"):
        candidates.append(low[:-3] + "y")
    if low.endswith("es"):
        candidates.append(low[:-2])
    if low.endswith("s"):
        candidates.append(low[:-1])
    if low.endswith("ed"):
        candidates += [low[:-2], low[:-1]]
        if len(low) > 4 and low[-3] == low[-4]:
            candidates.append(low[:-3])
    return next((c for c in candidates if c in VERBS), None)


def ing_base(word: str) -> str | None:
    """The base form of a known verb's -ing form ("designing" -> "design"), else None."""
    low = word.lower()
    if not low.endswith("ing") or len(low) < 5:
        return None
    stem = low[:-3]
    for candidate in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else ""):
        if candidate in VERBS:
            return candidate
    return None


def _verb_shape(word: str, plural_subject: bool) -> tuple[str, bool] | None:
    """(base form, past) when ``word`` can be the verb of a subject of that number."""
    low = word.lower()
    base = base_form(word)
    if base is None or word[:1].isupper() or low in ADVERBS:
        return None
    if low in IRREGULAR_FORMS:
        present = ("is", "am", "are", "has", "does", "goes", "read", "put", "cost")
        if low in ("is", "has", "does", "goes", "was") and plural_subject and low != "was":
            return None
        return base, low not in present
    if low.endswith("ed"):
        return base, True
    if low == base:
        return (base, False) if plural_subject else None
    return (base, False) if not plural_subject else None


def _find_verb(words: list[str], start: int) -> tuple[int, str, bool] | None:
    """Index, base form and tense of the verb of the subject starting at ``start``."""
    first = words[start].lower()
    if first in PRONOUNS:
        index = start + 1
        while index < len(words) and words[index].lower() in ADVERBS:
            index += 1
        if index < len(words):
            shape = _verb_shape(words[index], first in _PLURAL_PRONOUNS)
            if shape:
                return index, *shape
        return None
    index = start
    while index + 1 < len(words):
        index += 1
        word = words[index]
        if word == ",":
            closing = _apposition_end(words, index)
            if closing is None:
                return None
            index = closing  # "My first grandchild, Nikau, was born ..."
            continue
        if word in (";", ":"):
            return None
        if word.lower() in ADVERBS:  # "My mother always keeps ..."
            continue
        kept = [w for w in words[start:index] if w.lower() not in ADVERBS and w != ","]
        prior = kept[-1] if kept else words[start]
        before = prior.lower()
        if before in _DETERMINERS or before in PREPOSITIONS or before == "of":
            continue
        plural = before in ("i", "we") or _plural_noun(prior)
        # "Tadeo and Svetlana" take a plural verb, "Marlowe and Finch" (a firm) a singular one.
        either = "and" in (w.lower() for w in words[start:index])
        shape = _verb_shape(word, plural) or (_verb_shape(word, not plural) if either else None)
        if shape:
            return index, *shape
    return None


def _perfect_base(word: str) -> str | None:
    """The base form of a past participle after "have" ("donated" -> "donate", "grown" ->
    "grow"), else None: "have two cats", "have lunch" and "have been" are not perfects."""
    low = word.lower()
    if word[:1].isupper():
        return None
    base = _PARTICIPLE_BASES.get(low) or base_form(word)
    if base is None or base in ("be", "have") or (low == base and low not in _PARTICIPLE_BASES):
        return None
    known = low in _PARTICIPLE_BASES or low in IRREGULAR_FORMS
    return base if known or low.endswith("ed") else None


def _apposition_end(words: list[str], comma: int) -> int | None:
    """The index of the comma closing a name set off after a subject ("My son, Tomas, ..."),
    else None."""
    for end in range(comma + 2, min(comma + 5, len(words))):
        if words[end] == ",":
            name = words[comma + 1 : end]
            return end if all(w[:1].isupper() for w in name) else None
    return None


def _plural_noun(word: str) -> bool:
    """Whether a subject ending in ``word`` is plural: "parents" is, "Stavros" (a name) and
    "Ana's" are not."""
    low = word.lower()
    return low.endswith("s") and not low.endswith("'s") and not word[:1].isupper()


def _is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and word.isalpha()


def _chunk_kind(prep: str, words: list[str], lemma: str) -> str:
    lows = [w.lower() for w in words]
    if any(m in lows for m in MONTHS) or (prep in ("in", "since") and any(map(_YEAR.match, lows))):
        return "date"
    if prep in ("when", "whenever", "while", "before", "after", "during", "until"):
        return "time"
    if any(_TIME.match(w) for w in lows) or (prep == "at" and lows[:1] and lows[0].isdigit()):
        return "time"
    if (
        any(day in lows or day + "s" in lows for day in WEEKDAYS)
        or lows[:1] in (["every"], ["each"], ["twice"], ["once"])
        or (prep in ("in", "at", "on") and lows[-1:] and lows[-1] in DAY_PARTS)
    ):
        return "time"
    numeric = any(_DIGITS.search(w) for w in lows) or (lows[:1] and lows[0] in NUMBER_WORDS)
    if numeric and not any(w[:1].isupper() and not _DIGITS.search(w) for w in words[1:]):
        return "number"
    if prep in _NAME_MARKERS:
        return "name"
    if any(w in ("dr.", "dr", "mr", "mrs", "ms", "mr.", "mrs.", "ms.") for w in lows):
        return "person"
    capitalized = any(w[:1].isupper() for w in words)
    if prep in ("with", "by") and capitalized and lows[0] not in _DETERMINERS:
        return "person"
    if prep == "to":
        if lemma in MOTION_VERBS:
            return "place"
        # "married to Vasso", "I send the rota to Fotini": a name after "to" is someone.
        return "person" if capitalized and lows[0] not in _DETERMINERS else "thing"
    if prep == "from" and capitalized and lows[0] not in _DETERMINERS:
        return "person"
    if prep in ("on", "by", "over", "under", "above"):
        return "place" if capitalized or lows[:1] == ["the"] else "thing"
    if prep in _PLACE_PREPS:
        return "place"
    if any(_DIGITS.search(w) for w in lows):
        return "number"
    return "thing"


def _split_chunks(words: list[str], lemma: str) -> list[Chunk]:
    """Cut the words after the verb into chunks and give each its kind."""
    pieces: list[tuple[str, list[str]]] = []
    prep, current = "", list[str]()
    index = 0
    while index < len(words):
        word, low = words[index], words[index].lower()
        pair = " ".join(w.lower() for w in words[index : index + 2])
        nxt = words[index + 1] if index + 1 < len(words) else ""
        if word in (",", ";"):
            if current:
                pieces.append((prep, current))
            prep, current = "", []
        elif low in _APPROXIMATE and _DIGITS.search(nxt):
            if current:  # "run 5 km around 3 times": a new chunk, the rough number
                pieces.append((prep, current))
                prep, current = "", []
            current.append(word)
        elif low in _RELATIVE and words[index - 1 : index] == [","]:
            break  # ", who draws up our rota": a clause about the last chunk, left out
        elif low in _RELATIVE and prep in _NAME_MARKERS and current:
            # "called Periklis who lives in the courtyard": the name ends; the relative
            # clause's verb is left out, its place or time read as the clause's own.
            pieces.append((prep, current))
            prep, current = "", []
            if base_form(nxt) is not None or nxt.lower() in ("is", "are", "was", "were"):
                index += 1
        elif pair in PREPOSITIONS:
            if current:
                pieces.append((prep, current))
            prep, current = pair, []
            index += 1
        elif low in PREPOSITIONS or low in _NAME_MARKERS or low in _STARTERS:
            if current or prep:
                pieces.append((prep, current))
            keeps_word = low in ("every", "each", "twice", "once")
            prep, current = ("", [word]) if keeps_word else (low, [])
        elif low in ADVERBS and not current:
            pass
        elif current and low.isdigit() and words[index + 1 : index + 2] in (["times"], ["Times"]):
            pieces.append((prep, current))  # "donated blood 31 times": how often, of what
            prep, current = "", [word]
        else:
            current.append(word)
        index += 1
    if current:
        pieces.append((prep, current))
    chunks: list[Chunk] = []
    for prep, chunk_words in pieces:
        if not chunk_words:
            continue
        kind = _chunk_kind(prep, chunk_words, lemma)
        after_role = bool(chunks) and chunks[-1].words[-1].lower() in PERSON_ROLES
        named = all(w[:1].isupper() for w in chunk_words) and len(chunk_words) <= 3
        if kind == "thing" and not prep and chunk_words[0][:1].isupper() and after_role:
            kind = "person"  # "an osteopath, Bastien Morel,"
        elif kind == "thing" and not prep and not chunks and named and lemma in PERSON_VERBS:
            kind = "person"  # "Call Ana about the drill"
        chunks.append(Chunk(prep, tuple(chunk_words), kind))
    return chunks


def subject_parts(subject: list[str]) -> tuple[str, str, bool]:
    """The head noun, the proper name and the number of a subject."""
    lows = [w.lower() for w in subject]
    if len(subject) == 1 and lows[0] in PRONOUNS:
        return "", "", lows[0] in _PLURAL_PRONOUNS
    if "and" in lows:
        return "", "", True
    core = subject
    for index, low in enumerate(lows[1:], start=1):
        if low in PREPOSITIONS:
            core = subject[:index]
            break
    head = ""
    names = []
    for index, word in enumerate(core):
        low = word.lower()
        if low in _DETERMINERS:
            continue
        if _is_acronym(word.removesuffix("'s")) and index > 0:
            head = word.removesuffix("'s")
        elif word[:1].isupper():
            names.append(word.removesuffix("'s"))
        elif not low.endswith("'s"):
            head = low
    if core[-1].lower().endswith("'s") and not core[-1][:1].isupper():
        head = head or core[-1].lower().removesuffix("'s")
    name = " ".join(names)
    plural = head.endswith("s") and not head.endswith("ss") and not names and len(head) > 3
    return head, name, plural


def _subject_start(words: list[str]) -> int:
    """Where the subject starts: 0, or after a fronted phrase ("On Saturday mornings I ...")."""
    first = words[0].lower()
    if first not in PREPOSITIONS and first not in _STARTERS and first not in WEEKDAYS:
        return 0
    for index in range(1, len(words)):
        if words[index].lower() in _SUBJECT_START:
            return index
    return -1


def _imperative(words: list[str]) -> Frame | None:
    """A note to self: "Call Ana about the drill" reads as "I need to call Ana about the drill"."""
    lemma = words[0].lower()
    if lemma not in VERBS or base_form(words[0]) != lemma or lemma == "be":
        return None
    rest = words[1:]
    particle = ""
    if rest and rest[0].lower() in _PARTICLES:
        particle, rest = rest[0].lower(), rest[1:]
    chunks = _split_chunks(rest, lemma)
    if not chunks:
        return None
    verb = (lemma, particle) if particle else (lemma,)
    return Frame(("I",), "", "", True, verb, lemma, False, "", particle, tuple(chunks), True)


def parse_clause(words: list[str]) -> Frame | None:
    """Read one clause; None when the rules cannot."""
    if len(words) < 2:
        return None
    imperative = _imperative(words)
    if imperative is not None:
        return imperative
    start = _subject_start(words)
    if start < 0:
        return None
    found = _find_verb(words, start)
    if found is None:
        return None
    verb_index, lemma, past = found
    subject = [w for w in words[start:verb_index] if w.lower() not in ADVERBS and w != ","]
    head, name, plural = subject_parts(subject)
    verb = [words[verb_index]]
    state = particle = ""
    after = words[verb_index + 1 :]
    while after and after[0].lower() in ADVERBS:
        after = after[1:]
    nxt = after[0].lower() if after else ""
    participle = lemma in ("be", "get") and nxt in PARTICIPLES - _NAME_MARKERS
    progressive = lemma == "be" and bool(after) and ing_base(after[0]) is not None
    perfect = _perfect_base(after[0]) if lemma == "have" and not past and after else None
    if perfect is not None:  # "I've donated blood 31 times": "donate" in the perfect
        verb, lemma, after = [words[verb_index], after[0]], perfect, after[1:]
    elif participle or progressive:  # "was born", "got engaged", "am designing"
        state, after = nxt, after[1:]
    elif lemma != "be" and nxt in _PARTICLES:
        particle, after = nxt, after[1:]
    if state or particle:
        verb.append(state or particle)
    chunks = _split_chunks(after, ing_base(state) or lemma)
    first = chunks[0] if chunks else None
    if (
        first is not None
        and lemma == "be"
        and not state
        and not first.prep
        and first.kind == "thing"
        and head in PERSON_ROLES
        and all(w[:1].isupper() for w in first.words)
    ):
        chunks[0] = Chunk("", first.words, "person")  # "My team lead is Ingrid Solberg"
    fronted = [w for w in words[:start] if w != ","]
    if fronted and (fronted[0].lower() in PREPOSITIONS or fronted[0].lower() in _STARTERS):
        # The sentence's capital goes with it: "... with Lefteris every Sunday?"
        fronted[0] = fronted[0].lower()
    chunks += _split_chunks(fronted, lemma)
    if not chunks and not state:
        return None
    return Frame(
        tuple(subject),
        head,
        name,
        plural,
        tuple(verb),
        lemma,
        past,
        state,
        particle,
        tuple(chunks),
        perfect=perfect is not None,
    )


def _has_verb(words: list[str]) -> bool:
    return bool(words) and (_find_verb(words, 0) is not None or _imperative(words) is not None)


def clauses(words: list[str]) -> list[list[str]]:
    """A sentence's clauses: cut at ";", and at "so"/"and"/"but" before a new subject or verb
    (a verb after "and" shares the clause's subject: "I'm allergic to X and carry Y")."""
    out: list[list[str]] = [[]]
    subject: list[str] = []
    index = 0
    while index < len(words):
        word, low = words[index], words[index].lower()
        nxt = words[index + 1] if index + 1 < len(words) else ""
        current = out[-1]
        if word == ";":
            out.append([])
        elif word == "," and nxt.lower() in _CONJUNCTIONS:
            pass
        elif low in _CONJUNCTIONS and current and _has_verb(current):
            if nxt.lower() in PRONOUNS:
                out.append([])
            elif low == "and" and base_form(nxt) and not nxt[:1].isupper():
                found = _find_verb(current, 0)
                subject = current[: found[0]] if found else []
                out.append(list(subject))
            else:
                current.append(word)
        else:
            current.append(word)
        index += 1
    return [c for c in out if c and c != [","]]


def parse_fact(text: str) -> Reading:
    """Every clause of ``text`` the rules can read, and a note's label."""
    words = tokenize(text)
    label = ""
    if ":" in words[:6]:
        cut = words.index(":")
        label, words = " ".join(words[:cut]), words[cut + 1 :]
    frames: list[Frame] = []
    for clause in clauses(words):
        frame = parse_clause(clause)
        if frame is not None and " ".join(frame.subject).lower() in _REFERRING:
            frame = _with_antecedent(frame, frames[-1]) if frames else None
        if frame is not None:
            frames.append(frame)
    return Reading(frames, label, " ".join(words))


def _antecedent(pronoun: str, before: Frame) -> tuple[str, ...]:
    """What "he", "she" or "it" stands for after the clause ``before`` (empty when unclear):
    the person it was about ("My dentist is Dr. Costa; she ..."), or the thing it named
    ("I'm allergic to penicillin; it ...")."""
    if pronoun in ("he", "she"):
        if before.head in PERSON_ROLES or (before.name and not before.head):
            return before.subject
        people = [c for c in before.chunks if c.kind in ("person", "name")]
        return people[0].words if people else ()
    things = [c for c in before.chunks if c.kind == "thing" and not c.words[0][:1].isupper()]
    return things[-1].words if len(things) == 1 else ()


def _with_antecedent(frame: Frame, before: Frame) -> Frame | None:
    """``frame`` with its pronoun subject replaced by what it stands for, None when unclear (its
    questions would ask about "it" or "she" with nothing to say who or what)."""
    subject = _antecedent(" ".join(frame.subject).lower(), before)
    if not subject:
        return None
    head, name, plural = subject_parts(list(subject))
    return replace(frame, subject=subject, head=head, name=name, plural=plural)
