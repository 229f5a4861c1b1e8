"""Answers given with memories say what the memories say: the check of an answer's start
against its memories, the memory restated when the answer draws on none, and the rewrite of a
streamed answer (fast: no model; the real model's answers are checked in test_memory_api)."""

from __future__ import annotations

import asyncio
from typing import cast

from adapters.cue_words import everyday_words
from hub.chat.grounded import first_sentence, grounded_rewriter
from hub.engine.runner import finished_generation, rewritten_generation
from hub.engine.types import ChatMessage
from hub.recall.chat_memory import MemoryTurn, recall_sync
from hub.recall.context import names_in_common, ordered_for
from hub.recall.grounding import (
    answering_memory,
    asks_about,
    check_grounding,
    restated,
    talks_about_the_prompt,
)
from hub.recall.service import MemoryService
from memory.embedder import Embedder
from memory.jobs import FactJobQueue
from memory.protocol import MemoryStore
from memory.types import MemoryItem, SearchHit

SISTER = "My sister Oriana lives in Tavira."
DOSE = "I take 75 mg of venlafaxine every morning."
OTHER = "Priya swims at the pool in Ronda twice a week."
EVERYDAY = everyday_words()


def test_an_answer_that_says_what_a_memory_says_is_drawn_from_it() -> None:
    question = "Which town would I travel to for a visit with my sibling?"
    assert check_grounding("You would travel to Tavira.", [SISTER], question, EVERYDAY).source == 0
    assert (
        check_grounding("It is 75 mg, every morning.", [SISTER, DOSE], "my dose?", EVERYDAY).source
        == 1
    )


def test_an_answer_that_invents_or_ignores_its_memories_is_drawn_from_none() -> None:
    question = "Where does my sister live?"
    for answer in [
        "Svetlana's home is in Lucca.",  # a name no memory holds
        "The user provided a list of facts, but nothing about your sister.",  # the prompt
        "The answer is: 2025-03-14.",  # metadata
        "I'm sorry, I can't help with that.",  # a refusal
        "Your sister lives in a lovely town.",  # nothing the question did not already hold
    ]:
        assert check_grounding(answer, [SISTER], question, EVERYDAY).source is None, answer
    # Half the date, or a dose without its amount, is not what the memory says.
    niece = "My niece Yasmina's birthday is on 28 February."
    for answer, memory, asked in [
        ("Send Yasmina a card on her birthday!", niece, "When should I send Yasmina a card?"),
        ("Yasmina's birthday is in February.", niece, "When is my niece's birthday?"),
        ("You take venlafaxine every morning.", DOSE, "How much venlafaxine do I take?"),
    ]:
        assert check_grounding(answer, [memory], asked, EVERYDAY).source is None, answer
    # A name's word used as a common noun does not repeat the name.
    work = "I work as a night-shift nurse in the cardiology ward of Hospital Santa Brígida."
    asked = "What's the name of the place that pays my salary?"
    assert (
        check_grounding("The hospital's a bit of a specialty.", [work], asked, EVERYDAY).source
        is None
    )
    assert check_grounding("It is Hospital Santa Brígida.", [work], asked, EVERYDAY).source == 0
    # A date is told whole: its month is one of its numbers.
    moved = "We moved into our house on 12 October 2019."
    asked = "How long have we been in this place, since when exactly?"
    said = "We've been in this house for 12 months since 2019."
    assert check_grounding(said, [moved], asked, EVERYDAY).source is None
    assert check_grounding("Since 12 October 2019.", [moved], asked, EVERYDAY).source == 0


def test_a_note_with_no_name_left_to_tell_is_told_by_its_uncommon_words() -> None:
    sweet = "My mother Despina always keeps a jar of quince spoon sweet for visitors."
    asked = "What does Despina give people with their coffee when they call round?"
    vague = "Despina gives people a sweet treat when they call around."
    assert check_grounding(vague, [sweet], asked, EVERYDAY).source is None
    told = "She offers visitors quince spoon sweet."
    assert check_grounding(told, [sweet], asked, EVERYDAY).source == 0
    # Words a question already holds, and everyday ones, tell nothing.
    asked = "What spoon sweet does Despina keep for visitors?"
    assert check_grounding("Quince, in a jar.", [sweet], asked, EVERYDAY).source == 0
    walk = "I walk the dog around the park after dinner."
    said = "You walk the dog after dinner."
    assert check_grounding(said, [walk], "What do I do after dinner?", EVERYDAY).source == 0


def test_a_question_for_a_name_is_answered_with_the_name_the_memory_gives() -> None:
    dog = "Our rescue dog is a three-legged Lapphund called Brunost."
    breed = "Your dog is a three-legged Lapphund."
    for asked in ("What's the name of our pooch?", "What do we call the hound?"):
        assert check_grounding(breed, [dog], asked, EVERYDAY).source is None
        assert check_grounding("Brunost.", [dog], asked, EVERYDAY).source == 0
    # Asked for something else, the breed is an answer the memory gives.
    assert check_grounding(breed, [dog], "What breed is our dog?", EVERYDAY).source == 0
    # A name the question already says is not what it asks for.
    said = "Brunost is a Lapphund."
    assert (
        check_grounding(said, [dog], "What breed is the dog called Brunost?", EVERYDAY).source == 0
    )


def test_only_questions_the_memories_should_answer_are_checked() -> None:
    assert asks_about("Which city is my sister in?", [SISTER])
    assert asks_about("When is Dário's birthday?", ["My son Dário was born on 3 March 2014."])
    assert asks_about("What does Grandma cook for the holiday?", ["Grandma makes msemen."])
    assert not asks_about("What is the capital of France?", [OTHER])


def test_a_memory_is_restated_as_said_back_to_its_author() -> None:
    assert restated(SISTER) == "Your sister Oriana lives in Tavira."
    assert restated("i take 75 mg of venlafaxine every morning") == (
        "You take 75 mg of venlafaxine every morning."
    )
    assert first_sentence("In 3.5 km. Then") == "In 3.5 km."
    assert first_sentence("Still going") is None


def rewrite(
    answer: str, memories: list[str], question: str, asked: bool = True
) -> tuple[str, list[int]]:
    async def run() -> tuple[str, list[int]]:
        cited: list[int] = []
        inner = finished_generation("fake", answer)
        rewriter = grounded_rewriter(question, memories, cited.append, EVERYDAY, True, asked)
        outer = rewritten_generation(inner, rewriter)
        text = "".join([piece async for piece in outer])
        await outer.wait_finished()
        assert outer.stats.finish_reason == "stop"
        return text, cited

    return asyncio.run(run())


def test_a_grounded_answer_streams_as_it_was_and_cites_its_memory() -> None:
    answer = "Your dose is 75 mg. Take it with breakfast."
    assert rewrite(answer, [OTHER, DOSE], "What is my dose?") == (answer, [1])


def test_an_answer_drawn_from_nothing_is_replaced_by_the_memory() -> None:
    text, cited = rewrite("Dr. Abernethy is the carer of Bruno.", [SISTER], "Where is my sister?")
    assert text == "Your sister Oriana lives in Tavira."
    assert cited == [0]


def test_a_general_question_is_answered_freely_unless_the_answer_uses_a_memory() -> None:
    question = "What is the capital of France?"
    answer = "The capital of France is Paris. It lies on the Seine."
    assert rewrite(answer, [OTHER], question, asked=False) == (answer, [])
    # The answer takes the note's time, and adds to it what the note does not say.
    meeting = "Our weekly planning meeting is on Tuesdays at 10:15."
    question = "What time does the planning session start?"
    assert not asks_about(question, [meeting])
    wrong = rewrite("The planning session starts at 10:15pm.", [meeting], question, asked=False)
    assert wrong == ("Your weekly planning meeting is on Tuesdays at 10:15.", [0])
    right = "The planning session starts at 10:15 on Tuesdays."
    assert rewrite(right, [meeting], question, asked=False) == (right, [0])


FARM = "I run Puketoi Station, a sheep and beef farm on the Maniototo."
SHEARING = "In shearing season the first run starts at 6:45 in the woolshed."
EWES = "We carry about 3,200 merino ewes."


def test_an_answer_that_speaks_of_the_note_instead_of_answering_is_replaced() -> None:
    question = "How many mother sheep are on the property?"
    assert not asks_about(question, [FARM, EWES, SHEARING])
    said = "The note is referring to the number of mother sheep on the property."
    assert talks_about_the_prompt(said)
    text, cited = rewrite(said, [FARM, EWES, SHEARING], question, asked=False)
    assert text == "You carry about 3,200 merino ewes."
    assert cited == [1]
    question = "By when must the sheep be penned up and ready for the clippers?"
    said = 'The answer to this question is: "By when."'
    text, cited = rewrite(said, [FARM, EWES, SHEARING], question, asked=False)
    assert text == "In shearing season the first run starts at 6:45 in the woolshed."
    # A general answer that takes nothing from the notes and speaks of none is left alone.
    assert not talks_about_the_prompt("Sheep are sheared once a year, usually in spring.")


def test_the_memory_answered_with_holds_what_the_question_asks_for() -> None:
    curling = "On Wednesday nights I go curling at the indoor rink in Naseby."
    parcel = "Parcel for Jules is waiting at the post office, reference 6613."
    mail = "The rural mail comes past our gate at 11:40 most days."
    # "When": a clock time or a date before a weekday, a weekday before nothing.
    assert answering_memory("When does the postie go by?", [curling, parcel, mail]) == 2
    assert answering_memory("When do I go curling?", [parcel, curling]) == 1
    assert answering_memory("When is my dentist?", ["I may see Oriana soon.", curling]) == 1
    assert answering_memory("When did we move?", ["We moved on 12 May."]) == 0
    # "How many", "what dose": a number.
    assert answering_memory("What dose is my statin?", [FARM, "I take 10 mg of atorvastatin."]) == 1
    # Anything else, or nothing that fits: the first given.
    assert answering_memory("Where do I live?", [FARM, EWES]) == 0
    assert (
        answering_memory("How many dogs do I have?", [FARM, SHEARING.replace("6:45", "dawn")]) == 0
    )


def test_a_weak_memory_the_answer_ignores_is_offered_as_only_the_closest() -> None:
    async def run() -> str:
        inner = finished_generation("fake", "Your sibling lives in Paris.")
        rewriter = grounded_rewriter(
            "Where does my sibling live?", [SISTER], lambda _: None, EVERYDAY, False
        )
        outer = rewritten_generation(inner, rewriter)
        return "".join([piece async for piece in outer])

    assert asyncio.run(run()) == (
        "I'm not sure I know that. The closest thing I remember: "
        "Your sister Oriana lives in Tavira."
    )


class ScoredStore:
    """A memory store whose every search finds the same hits (for the similarity floors)."""

    def __init__(self, scored: list[tuple[str, float]]) -> None:
        self.hits = [
            SearchHit(
                MemoryItem(f"m{n}", "fact", text, "import", "2025-02-03", "", "", {}, False),
                similarity,
                text,
                similarity,
                n,
                None,
            )
            for n, (text, similarity) in enumerate(scored, 1)
        ]

    def search(
        self, query: str, k: int = 10, filters: object = None, mode: str = "hybrid"
    ) -> list[SearchHit]:
        return self.hits[:k]


def recalled(store: ScoredStore, question: str) -> MemoryTurn:
    memory = MemoryService(
        store=cast(MemoryStore, store),
        embedder=cast(Embedder, None),
        jobs=cast(FactJobQueue, None),
        context_tokens=400,
        context_items=1,
        min_similarity=0.35,
        personal_min_similarity=0.25,
        general_min_similarity=0.38,
        store_messages=False,
        extract_facts=False,
    )
    return recall_sync(memory, [ChatMessage("user", question)])


def test_a_question_about_the_person_is_given_a_weaker_memory_than_a_general_one() -> None:
    store = ScoredStore([(SISTER, 0.3), (OTHER, 0.2)])
    personal = recalled(store, "Where has my sibling settled down?")
    assert [hit.item.text for hit in personal.hits] == [SISTER]
    personal.given = personal.hits
    assert not personal.sure()  # offered, but said to be only the closest memory
    assert recalled(store, "Where do people settle down?").hits == []
    sure = recalled(ScoredStore([(SISTER, 0.6)]), "Where does my sister live?")
    sure.given = sure.hits
    assert sure.sure()


def test_a_general_question_is_not_given_a_memory_that_only_just_matches() -> None:
    meditate = "I meditate for 15 minutes before bed."
    # Measured with the packaged embedder: 0.357 for this question and this note.
    minutes = "How many minutes are there in an hour?"
    assert recalled(ScoredStore([(meditate, 0.357)]), minutes).hits == []
    close = recalled(ScoredStore([(meditate, 0.5)]), "How long is the meditation before bed?")
    assert [h.item.text for h in close.hits] == [meditate]
    # A question naming what the memory names is given it at the usual floor.
    fatiha = "My grandmother Fatiha makes msemen for us every Eid."
    named = recalled(ScoredStore([(fatiha, 0.36)]), "Which flatbread does Fatiha prepare?")
    assert [h.item.text for h in named.hits] == [fatiha]
    unnamed = recalled(ScoredStore([(fatiha, 0.36)]), "Which flatbread is made for the festival?")
    assert unnamed.hits == []


def test_names_in_common_are_capitalized_words_past_the_first() -> None:
    note = "My grandmother Fatiha makes msemen; Dr. Salgueiro is my dentist."
    assert names_in_common("Which flatbread does Fatiha prepare?", note)
    assert names_in_common("Where does Dr. Salgueiro work?", note)
    assert not names_in_common("Fatiha makes what?", note)  # the first word is capitalized anyway
    assert not names_in_common("What is 15 plus 27?", "Our mailbox is number 27.")
    assert not names_in_common("What is the capital of France?", "Frances is my cat.")


def hit(text: str, similarity: float | None, rank: int) -> SearchHit:
    item = MemoryItem(f"m{rank}", "fact", text, "import", "2025-02-03", "", "", {}, False)
    return SearchHit(item, 1.0 / rank, text, similarity, rank, 1 if rank == 1 else None)


def test_the_note_given_first_is_the_one_closest_in_meaning() -> None:
    nurse = hit("I work as a night-shift nurse at Hospital Santa Brígida.", 0.37, 1)  # "shift"
    bus = hit("I commute to work on the number 207 bus.", 0.45, 2)
    other = hit("Rosalind rides the 12 tram to the bakery.", 0.5, 3)
    weak = hit("I park my car in the Trindade garage.", 0.3, 4)
    question = "What route do I ride to my shifts?"
    # Sure before weak; the person's own notes before others'; then the closest in meaning.
    order = ordered_for(question, [weak, nurse, other, bus], sure_similarity=0.35)
    assert [h.item.text for h in order] == [
        bus.item.text,
        nurse.item.text,
        other.item.text,
        weak.item.text,
    ]
    general = ordered_for("Which tram goes to the bakery?", [nurse, bus, other], 0.35)
    assert general[0] is other
    # Found by words alone (no similarity yet): the search's order is kept.
    unscored = [hit("first", None, 1), hit("second", None, 2)]
    assert [h.item.text for h in ordered_for(question, unscored, 0.35)] == ["first", "second"]


def test_a_note_near_the_top_that_holds_what_is_asked_is_given_first() -> None:
    parcel = hit("Parcel for Jules is waiting at the post office, reference 6613.", 0.62, 1)
    mail = hit("The postie comes past the gate at 11:40 each weekday.", 0.58, 2)
    bus = hit("The school bus leaves the road end at 8:05.", 0.4, 3)
    far = hit("The rural delivery van stops at noon on Saturdays.", 0.39, 4)
    # "When" wants a time: the closest note with one comes first, the rest keep their order.
    order = ordered_for("When does the postie go by?", [parcel, mail, bus, far], 0.35)
    assert order == [mail, parcel, bus, far]
    # A question that asks for nothing in particular keeps the closest first.
    assert ordered_for("Where is the parcel for Jules?", [parcel, mail], 0.35)[0] is parcel
    # Only from the first three: a note further down never leads for holding a time.
    vague = [hit(f"The post office is on Main Street ({n}).", 0.6 - n / 100, n) for n in (1, 2, 3)]
    assert ordered_for("When does the postie go by?", [*vague, far], 0.35)[0] is vague[0]
    # Never a weaker note, nor someone else's before the person's own.
    dose = hit("I take my statin every evening.", 0.6, 1)
    other = hit("Ana takes 20 mg of atorvastatin.", 0.55, 2)
    weak = hit("I had 3 teeth out in 2019.", 0.3, 3)
    assert ordered_for("How many mg is my statin?", [dose, other, weak], 0.35)[0] is dose


class WordyStore(ScoredStore):
    """A store whose hybrid search ranks notes that share a word first, as fusion by rank does,
    and whose search by meaning alone finds the note that means the same."""

    def __init__(self, wordy: list[tuple[str, float]], meant: tuple[str, float]) -> None:
        super().__init__([*wordy, meant])
        self.meant = self.hits.pop()

    def search(
        self, query: str, k: int = 10, filters: object = None, mode: str = "hybrid"
    ) -> list[SearchHit]:
        return [self.meant] if mode == "vector" else self.hits[:k]


def test_the_memory_closest_in_meaning_is_offered_when_the_search_by_words_buries_it() -> None:
    dog = ("Our rescue dog is a three-legged Lapphund called Brunost.", 0.52)
    wordy = [(f"Time to book the {n}th service for the van.", 0.4) for n in range(1, 13)]
    turn = recalled(WordyStore(wordy, dog), "Who do I shout for when it's time for walkies?")
    turn.given = ordered_for(turn.question, turn.hits, turn.sure_similarity)[:1]
    assert [hit.item.text for hit in turn.given] == [dog[0]]
    # Found by both searches, it is offered once.
    both = WordyStore(wordy, dog)
    both.meant = both.hits[0]
    assert len(recalled(both, "When is the van's service?").hits) == 12
