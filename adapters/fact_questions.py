"""Many ways to ask for one fact, from its frame (adapters/fact_frames.py) and the lexicon.

Families of questions, each a way a person asks:
- "wh": a question for each chunk by the kind of answer it holds ("Where does my sister Oriana
  live?", "What time do I practise the cello?", "Who do I do physiotherapy with?");
- "ask": the same, embedded ("Remind me where Oriana lives.", "Do you know who my dentist is?");
- "synonym": a wh-question with an everyday synonym for a relation, a thing or the verb
  ("Where does my sibling live?", "Where does Oriana reside?");
- "about": "What do you know about my sister?", "Tell me about Oriana.";
- "reverse": from the value back to the subject ("Who lives in Tavira?", "Who is Dr. Salgueiro?").
Each question carries the words it asks for (``expect``), which a right answer contains.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from adapters.fact_frames import PRONOUNS, Chunk, Frame, Reading, parse_fact
from adapters.lexicon import (
    IRREGULAR_FORMS,
    MEDICINE_UNITS,
    NOUN_SYNONYMS,
    OBJECTLESS_SYNONYMS,
    PAST_PARTICIPLES,
    PERSON_ROLES,
    UNIT_QUESTIONS,
    VERB_SYNONYMS,
)

FAMILIES = ("wh", "synonym", "ask", "about", "reverse")
_PAST = {base: form for form, base in IRREGULAR_FORMS.items() if form not in ("is", "am", "are")}
_PAST.update({"be": "was", "have": "had", "do": "did", "go": "went", "read": "read"})
_ASK_FORMS = ("Remind me {q}.", "Do you know {q}?", "Can you tell me {q}?", "Tell me {q}.")
_ABOUT_FORMS = (
    "What do you know about {x}?",
    "Tell me about {x}.",
    "What can you tell me about {x}?",
    "What do you remember about {x}?",
)
_STRANDING = ("to", "with", "from", "for", "as", "about", "by")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Question:
    """One way to ask for a fact, and the words a right answer contains ("" for questions
    about the whole fact)."""

    text: str
    family: str
    expect: str


@dataclass(frozen=True)
class _Ask:
    """One question in its direct and embedded forms."""

    direct: str  # "Where does my sister live?"
    embedded: str  # "where my sister lives"
    expect: str


def third_person(verb: str) -> str:
    """ "live" -> "lives", "teach" -> "teaches", "carry" -> "carries", "have" -> "has"."""
    special = {"be": "is", "have": "has", "do": "does", "go": "goes"}
    if verb in special:
        return special[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "o", "u"):
        return verb[:-1] + "ies"
    return verb + "s"


def past_tense(verb: str) -> str:
    """ "live" -> "lived", "grow" -> "grew", "carry" -> "carried"."""
    if verb in _PAST:
        return _PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "o", "u"):
        return verb[:-1] + "ied"
    return verb + "ed"


def past_participle(verb: str) -> str:
    """ "donate" -> "donated", "grow" -> "grown", "keep" -> "kept"."""
    return PAST_PARTICIPLES.get(verb) or past_tense(verb)


def _finite(phrase: str, frame: Frame) -> str:
    """A verb phrase in the frame's person and tense ("reside" -> "resides")."""
    first, _, rest = phrase.partition(" ")
    if frame.perfect:
        first = f"{_aux(frame)} {past_participle(first)}"
    elif frame.past:
        first = past_tense(first)
    elif not frame.plural:
        first = third_person(first)
    return f"{first} {rest}".strip()


def _aux(frame: Frame) -> str:
    if frame.perfect:
        return "have" if frame.plural else "has"
    if frame.past:
        return "did"
    return "do" if frame.plural else "does"


def _be(frame: Frame, subject: str) -> str:
    if subject == "I":
        return "was" if frame.past else "am"
    if subject == "we":
        return "were" if frame.past else "are"
    said = frame.verb[0].lower()
    return said if said in ("is", "are", "was", "were") else ("are" if frame.plural else "is")


def _join(*parts: str) -> str:
    return " ".join(" ".join(p for p in parts if p).split())


def _sentence(text: str, end: str = "?") -> str:
    text = " ".join(text.split()).rstrip(".?")
    return text[:1].upper() + text[1:] + end


def _wh_phrases(chunk: Chunk, copula: bool) -> list[str]:
    """The question words that ask for ``chunk`` ("Where", "What time", "How many lengths")."""
    lows = [w.lower() for w in chunk.words]
    if chunk.prep == "since" and chunk.kind in ("date", "time"):
        return ["Since when"]
    if chunk.kind == "place":
        return ["Where"]
    if chunk.kind == "date":
        if all(_DIGIT.search(w) for w in lows):
            return ["When", "In which year"]
        return ["When", "What date", "On what date"]
    if chunk.kind == "time":
        clock = any(":" in w or w.endswith(("am", "pm")) for w in lows)
        if clock or (chunk.prep == "at" and lows[0][:1].isdigit()):
            return ["What time", "When", "At what time"]
        if chunk.prep == "when":
            return ["When"]
        if lows[:1] in (["every"], ["twice"], ["once"]):
            return ["When", "How often"]
        return ["When", "On which day"] if chunk.prep == "on" else ["When"]
    if chunk.kind == "number":
        return _number_phrases(chunk, lows, copula)
    if chunk.kind == "person":
        return ["Who"]
    return ["What"]


def _number_phrases(chunk: Chunk, lows: list[str], copula: bool) -> list[str]:
    units = [w for w in lows if w in UNIT_QUESTIONS]
    if units:
        head = UNIT_QUESTIONS[units[0]]
        if "of" in lows and head == "How much":
            thing = " ".join(chunk.words[lows.index("of") + 1 :])
            if units[0] in MEDICINE_UNITS:
                return [f"How much {thing}", f"What dose of {thing}"]
            return [f"How much {thing}"]
        return [head]
    if copula:
        return ["What"]
    rough = ("the", "a", "around", "about", "roughly", "nearly", "almost", "usually")
    said = [w for w in chunk.words if w.lower() not in rough]
    nouns = [w for w in said if not _DIGIT.search(w) and w.lower() not in ("number", "minus")]
    if nouns and _DIGIT.search(said[0]):  # "26 pupils", "3,200 merino ewes": a count
        return [f"How many {' '.join(nouns).lower()}"]
    if nouns:  # "space 118", "berth 46": which one
        return [f"Which {' '.join(nouns).lower()}", "What number"]
    if chunk.prep:  # "opens with 3917"
        return ["What number"]
    return ["How many", "What number"]


def _rest(frame: Frame, answer: Chunk | None, short: bool) -> str:
    """The other chunks, in order. The short form keeps the objects (and, with none, the first
    place or thing), leaving out times, dates, durations and "as"/"for" phrases."""
    others = [c for c in frame.chunks if c is not answer]
    if not short:
        return " ".join(c.text for c in others)
    # Objects are the chunks without a preposition before the first one with ("space 118" after
    # "in the garage," is not an object).
    leading = []
    for chunk in frame.chunks:
        if chunk.prep:
            break
        leading.append(chunk)
    objects = [c for c in others if c in leading and c.kind not in ("time", "date")]
    if not objects:
        objects = [
            c for c in others if c.kind in ("place", "thing") and c.prep not in ("for", "as")
        ]
        objects = objects[:1]
    return " ".join(c.text for c in others if c in objects)


def _strand(chunk: Chunk) -> str:
    """A preposition left at the end: "What is he allergic to?", "Who do I run with?"."""
    if chunk.kind in ("thing", "person") and chunk.prep in _STRANDING:
        return " " + chunk.prep
    if chunk.kind == "number" and chunk.prep in ("on", "in", "at", "from", "to", "with"):
        return " " + chunk.prep
    return ""


def _verb_asks(frame: Frame, answer: Chunk, subject: str, verb: str, short: bool) -> list[_Ask]:
    """Questions for a chunk after a verb, or after "be" and a state ("allergic to", "born on")."""
    rest = _rest(frame, answer, short)
    tail = _strand(answer)
    out = []
    for wh in _wh_phrases(answer, False):
        if frame.lemma == "be":
            be = _be(frame, subject)
            direct = _join(wh, be, subject, frame.state, rest) + tail
            embedded = _join(wh.lower(), subject, be, frame.state, rest) + tail
        elif frame.imperative:
            direct = _join(wh, "do I need to", verb, rest) + tail
            embedded = _join(wh.lower(), "I need to", verb, rest) + tail
        else:
            base = verb
            if wh.startswith(("What", "Which")) and not answer.prep and verb == "go":
                base = "do"  # "I go bouldering at X" -> "What do I do at X?"
            if frame.lemma == "get" and frame.state:
                base = f"get {frame.state}"
            finite = " ".join(frame.verb) if base == verb == frame.lemma else _finite(base, frame)
            if frame.perfect:  # "How often have I donated blood?"
                said = frame.verb[-1].lower()
                base = (
                    said
                    if base == frame.lemma
                    else _join(past_participle(base.split()[0]), *base.split()[1:])
                )
            direct = _join(wh, _aux(frame), subject, base, rest) + tail
            embedded = _join(wh.lower(), subject, finite, rest) + tail
        out.append(_Ask(_sentence(direct), embedded, answer.core))
    return out


def _owns(subject: str) -> str:
    """ "our dog" -> "do we have", "my car" -> "do I have", else ""."""
    first = subject.split()[0].lower() if subject else ""
    return {"our": "do we have", "my": "do I have"}.get(first, "")


def _copula_asks(frame: Frame, subject: str) -> list[_Ask]:
    """Questions for "X is Y [called Z] [at W]": who or what X is, what X is called, where X is."""
    out: list[_Ask] = []
    be = _be(frame, subject)
    person = frame.head in PERSON_ROLES
    asked_where = False
    for index, chunk in enumerate(frame.chunks):
        if chunk.kind == "name":
            out.append(
                _Ask(f"What {be} {subject} called?", f"what {subject} {be} called", chunk.core)
            )
            out.append(
                _Ask(f"What is the name of {subject}?", f"what {subject} {be} called", chunk.core)
            )
            if person:
                out.append(_Ask(f"Who {be} {subject}?", f"who {subject} {be}", chunk.core))
        elif index == 0 and not chunk.prep:
            if subject in ("I", "we"):
                later = [c for c in frame.chunks[1:] if c.prep in ("at", "in", "for")]
                if chunk.words[0].lower() in ("a", "an") and later:
                    out.append(
                        _Ask("What do I do for a living?", "what I do for a living", chunk.core)
                    )
                    out.append(_Ask("What is my job?", "what my job is", chunk.core))
                    out.append(_Ask("Where do I work?", "where I work", later[0].core))
                continue
            wh = _wh_phrases(chunk, True)[0]
            if wh == "What" and (person or chunk.kind == "person"):
                wh = "Who"
            out.append(
                _Ask(_join(wh, be, subject) + "?", _join(wh.lower(), subject, be), chunk.core)
            )
            owns = _owns(subject)
            if chunk.words[0].lower() in ("a", "an") and owns and frame.head:
                owner = owns.split()[1]
                out.append(
                    _Ask(
                        f"What kind of {frame.head} {owns}?",
                        f"what kind of {frame.head} {owner} have",
                        chunk.core,
                    )
                )
        elif chunk.kind in ("time", "date"):
            for wh in _wh_phrases(chunk, False):
                out.append(
                    _Ask(_join(wh, be, subject) + "?", _join(wh.lower(), subject, be), chunk.core)
                )
        elif chunk.kind in ("place", "thing") and not asked_where:
            asked_where = True
            out.append(
                _Ask(_join("Where", be, subject) + "?", _join("where", subject, be), chunk.core)
            )
        elif chunk.kind == "number":
            out.append(
                _Ask(_join("What", be, subject) + "?", _join("what", subject, be), chunk.core)
            )
    return [_Ask(_sentence(a.direct), a.embedded, a.expect) for a in out]


def _name_asks(frame: Frame, thing: Chunk, name: Chunk, subject: str, verb: str) -> list[_Ask]:
    """ "We have a tortoise called Periklis" -> "What is our tortoise called?"; "I ride a horse
    called Blaze" -> "What is the horse I ride called?"."""
    noun = " ".join(w for w in thing.words if w.lower() not in ("a", "an", "the"))
    owner = {"I": "my", "we": "our"}.get(subject, "")
    if frame.lemma == "have" and owner and not frame.past:
        named = f"{owner} {noun}"
    else:
        named = f"the {noun} {subject} {_finite(verb, frame)}"
    return [
        _Ask(f"What is {named} called?", f"what {named} is called", name.core),
        _Ask(f"What is the name of {named}?", f"what {named} is called", name.core),
    ]


def _asks(frame: Frame, subject: str, verb: str) -> list[_Ask]:
    if frame.lemma == "be" and not frame.state:
        return _copula_asks(frame, subject)
    out = []
    for index, answer in enumerate(frame.chunks):
        before = frame.chunks[index - 1] if index else None
        if answer.kind == "name":
            if before is not None and before.kind == "thing" and not before.prep:
                out += _name_asks(frame, before, answer, subject, verb)
            continue  # "What do we have a tortoise?" asks nothing
        for short in (True, False):
            out += _verb_asks(frame, answer, subject, verb, short)
    return out


def subject_variants(frame: Frame) -> list[str]:
    """The subject as said, then without its name ("my sister"), then by name ("Oriana")."""
    full = frame.subject_text
    out = [full]
    if not frame.name or not frame.head or frame.imperative:
        return out
    words = full.split()
    names = frame.name.split()
    named = [
        i
        for i, w in enumerate(words)
        if w[:1].isupper() and w != "I" and w.removesuffix("'s") in names
    ]
    if not named or named != list(range(named[0], named[-1] + 1)):
        return out
    kept = words[: named[0]] + words[named[-1] + 1 :]
    if words[named[-1]].endswith("'s") and named[0] > 0:
        kept[named[0] - 1] += "'s"  # "my niece Yasmina's birthday" -> "my niece's birthday"
    if len(kept) > 1 and named[0] > 0:
        out.append(" ".join(kept))
    if named[0] > 0:
        out.append(" ".join(words[named[0] :]))
    return out


def _noun_swaps(text: str, verb: str) -> list[str]:
    """``text`` with one everyday noun swapped for a synonym: lower-case whole words only (so
    "Hospital Santa Brígida" and "mother-in-law" stay whole), never the verb."""
    swaps = []
    for noun, synonyms in NOUN_SYNONYMS.items():
        if noun == verb:
            continue
        pattern = re.compile(rf"(?<![\w-]){re.escape(noun)}(?![\w-])")
        if pattern.search(text):
            swaps += [pattern.sub(synonym, text, count=1) for synonym in synonyms]
    return swaps


def _contracted(text: str) -> str:
    """ "What is my badge number?" -> "What's my badge number?" ("" when there is none)."""
    for full, short in (("What is ", "What's "), ("Who is ", "Who's "), ("Where is ", "Where's ")):
        if text.startswith(full):
            return short + text[len(full) :]
    return ""


def _about_questions(frame: Frame) -> list[Question]:
    topics = []
    if frame.head and not frame.imperative and frame.subject_text.lower() not in PRONOUNS:
        topics += subject_variants(frame)[1:] or [frame.subject_text]
    for chunk in frame.chunks:
        if chunk.kind in ("person", "name", "place") and chunk.core[:1].isupper():
            topics.append(chunk.phrase)
    return [
        Question(_sentence(form.format(x=topic), form[-1]), "about", "")
        for topic in dict.fromkeys(topics)
        for form in _ABOUT_FORMS
    ]


def _reverse_questions(frame: Frame) -> list[Question]:
    out = []
    subject = frame.subject_text
    personal = frame.head in PERSON_ROLES or (bool(frame.name) and not frame.head)
    copula = frame.lemma == "be" and not frame.state
    for index, chunk in enumerate(frame.chunks):
        if copula:
            named = index == 0 and chunk.core[:1].isupper() and chunk.kind not in ("time", "date")
            if chunk.kind in ("person", "name") or named:  # never "What is Tuesdays?"
                who = chunk.kind == "person" or personal
                out.append(Question(f"{'Who' if who else 'What'} is {chunk.core}?", "reverse", ""))
            continue
        if chunk.kind not in ("place", "time", "date", "person") or not chunk.prep:
            continue
        if subject.lower() not in PRONOUNS and personal:
            text = _sentence(f"Who {' '.join(frame.verb)} {chunk.text}")
            out.append(Question(text, "reverse", ""))
        elif not frame.imperative and frame.lemma != "be":
            do = "done" if frame.perfect else "do"
            text = _sentence(f"What {_aux(frame)} {subject} {do} {chunk.text}")
            out.append(Question(text, "reverse", ""))
    return out


def existential(frame: Frame) -> bool:
    """Whether the clause says something is there ("There are 26 pupils in my choir")."""
    return frame.subject_text.lower() == "there" and frame.lemma == "be" and bool(frame.chunks)


def _existential_asks(frame: Frame) -> list[_Ask]:
    """ "There are 26 pupils in my school choir" -> "How many pupils are there in my school
    choir?"; "There is a bakery below our flat" -> "What is there below our flat?"."""
    first, rest = frame.chunks[0], " ".join(c.text for c in frame.chunks[1:])
    be = frame.verb[0].lower()
    if first.kind == "number":
        return [
            _Ask(
                _sentence(_join(wh, be, "there", rest)),
                _join(wh.lower(), "there", be, rest),
                first.core,
            )
            for wh in _number_phrases(first, [w.lower() for w in first.words], False)
        ]
    be = "was" if frame.past else "is"
    return [
        _Ask(
            _sentence(_join("What", be, "there", rest)),
            _join("what", "there", be, rest),
            first.core,
        )
    ]


def _existential_questions(frame: Frame) -> list[Question]:
    out: list[Question] = []
    for ask in _existential_asks(frame):
        out.append(Question(ask.direct, "wh", ask.expect))
        out += [Question(text, "synonym", ask.expect) for text in _noun_swaps(ask.direct, "be")]
        for form in _ASK_FORMS:
            out.append(
                Question(_sentence(form.format(q=ask.embedded), form[-1]), "ask", ask.expect)
            )
    for chunk in frame.chunks[1:]:  # "What do you know about my school choir?"
        if chunk.kind in ("place", "thing", "person") and chunk.words[0].lower() in ("my", "our"):
            out += [
                Question(_sentence(form.format(x=chunk.phrase), form[-1]), "about", "")
                for form in _ABOUT_FORMS
            ]
    return out


def _has_object(frame: Frame) -> bool:
    """Whether the verb takes an object ("I run Puketoi Station"), not only a distance or a
    time ("I run 10 km every Sunday") or phrases after a preposition."""
    first = frame.chunks[0] if frame.chunks else None
    return first is not None and not first.prep and first.kind not in ("number", "time", "date")


def frame_questions(frame: Frame) -> list[Question]:
    """Every question this generator makes for one clause."""
    if existential(frame):
        return _existential_questions(frame)
    out: list[Question] = []
    verb = " ".join((frame.lemma, frame.particle)).strip()
    subjects = subject_variants(frame)
    plain = subjects[1] if len(subjects) > 1 else subjects[0]  # "my sister", no name
    for subject in subjects:
        for ask in _asks(frame, subject, verb):
            out.append(Question(ask.direct, "wh", ask.expect))
            if contracted := _contracted(ask.direct):
                out.append(Question(contracted, "wh", ask.expect))
    for ask in _asks(frame, subjects[-1], verb):
        for form in _ASK_FORMS:
            out.append(
                Question(_sentence(form.format(q=ask.embedded), form[-1]), "ask", ask.expect)
            )
    for ask in _asks(frame, plain, verb):
        swapped = _noun_swaps(ask.direct, frame.lemma)
        out += [Question(text, "synonym", ask.expect) for text in swapped]
    if frame.lemma != "be":
        for synonym in VERB_SYNONYMS.get(verb, ()):
            if (verb, synonym) in OBJECTLESS_SYNONYMS and _has_object(frame):
                continue
            for ask in _asks(frame, subjects[-1], synonym):
                out.append(Question(ask.direct, "synonym", ask.expect))
    return out + _about_questions(frame) + _reverse_questions(frame)


def label_questions(reading: Reading) -> list[Question]:
    """Questions for a labelled note: "Shopping list: ..." -> "What is on my shopping list?"."""
    label = reading.label.lower()
    if not label:
        return []
    forms = (
        f"What is on my {label}?",
        f"What was my {label}?",
        f"What did I write down as my {label}?",
        f"Remind me of my {label}.",
        f"What do you know about my {label}?",
    )
    return [Question(_sentence(form, form[-1]), "wh", reading.content) for form in forms]


def _stable_order(items: list[Question], key: str) -> list[Question]:
    return sorted(items, key=lambda q: hashlib.sha256((key + q.text).encode()).hexdigest())


def questions_for(text: str) -> list[Question]:
    """Every question for a fact or note, deduplicated, family by family, each family in a
    stable shuffled order (empty when the rules cannot read the text)."""
    reading = parse_fact(text)
    found = label_questions(reading)
    for frame in reading.frames:
        found += frame_questions(frame)
    unique: dict[str, Question] = {}
    for question in found:
        unique.setdefault(" ".join(question.text.lower().split()), question)
    by_family = {family: [q for q in unique.values() if q.family == family] for family in FAMILIES}
    return [q for family in FAMILIES for q in _stable_order(by_family[family], text)]


def can_phrase(text: str) -> bool:
    """Whether the rules read ``text`` well enough to ask for a part of it."""
    return any(q.family == "wh" for q in questions_for(text))
