"""The question generator on fact shapes a person tells the hub: which questions it asks, what
a right answer must contain, and how a fact becomes training examples (fast, no model)."""

from __future__ import annotations

import pytest

from adapters.config import DatasetRecipe
from adapters.dataset import build_dataset
from adapters.examples import PersonInputs, SourceText
from adapters.fact_examples import item_examples, second_person
from adapters.fact_frames import parse_fact
from adapters.fact_questions import can_phrase, questions_for


def asked(text: str, family: str | None = None) -> dict[str, str]:
    """Question text -> expected answer words."""
    return {q.text: q.expect for q in questions_for(text) if family in (None, q.family)}


def test_a_relative_living_somewhere_is_asked_where_by_relation_name_and_synonym() -> None:
    questions = asked("My sister Oriana lives in Tavira.")
    for question in (
        "Where does my sister Oriana live?",
        "Where does my sister live?",
        "Where does Oriana live?",
        "Where does my sibling live?",
        "Remind me where Oriana lives.",
    ):
        assert questions[question] == "Tavira", question
    assert "Where does Oriana reside?" in questions
    assert "Who lives in Tavira?" in questions  # reversed: from the value to the person
    assert "What do you know about my sister?" in questions
    assert "Tell me about Oriana." in questions


def test_a_daily_dose_is_asked_how_much_and_when() -> None:
    questions = asked("I take 50 mg of sertraline every morning.")
    assert questions["How much sertraline do I take?"] == "50 mg of sertraline"
    assert questions["What dose of sertraline do I take?"] == "50 mg of sertraline"
    assert questions["When do I take 50 mg of sertraline?"] == "morning"


def test_a_date_is_asked_when_and_on_what_date() -> None:
    questions = asked("Our wedding anniversary is on 14 June.")
    assert questions["When is our wedding anniversary?"] == "14 June"
    assert questions["What date is our wedding anniversary?"] == "14 June"
    assert "When is our marriage anniversary?" in questions


def test_a_person_at_a_place_is_asked_who_and_where() -> None:
    questions = asked("My dentist is Dr. Costa at the Riverside clinic.")
    assert questions["Who is my dentist?"] == "Dr. Costa"
    assert questions["Where is my dentist?"] == "Riverside clinic"
    assert "Who is Dr. Costa?" in questions
    assert "Who is my tooth doctor?" in questions


def test_a_routine_is_asked_how_far_where_and_when() -> None:
    questions = asked("I usually run 5 km along the river on Wednesday evenings.")
    assert questions["How far do I run along the river?"] == "5 km"
    assert questions["When do I run 5 km along the river?"] == "Wednesday evenings"
    assert questions["Where do I run 5 km?"] == "river"
    assert "How far do I jog along the river?" in questions


def test_names_times_and_people_get_their_own_question_words() -> None:
    assert asked("Our cat is a black tabby called Miso.")["What is our cat called?"] == "Miso"
    assert asked("Our cat is a black tabby called Miso.")["What kind of cat do we have?"] == (
        "black tabby"
    )
    assert asked("I wake up at 6:15 on weekdays.")["What time do I wake up?"] == "6:15"
    assert asked("I do yoga with Priya Nair.")["Who do I do yoga with?"] == "Priya Nair"
    assert asked("My husband Tom is allergic to peanuts.")["What is my spouse allergic to?"] == (
        "peanuts"
    )


def test_a_name_ending_in_s_an_adverb_or_a_name_set_off_by_commas_keeps_the_verb_found() -> None:
    studying = asked("My son Stavros is studying marine biology in Heraklion.")
    assert studying["What is my son studying in Heraklion?"] == "marine biology"
    assert studying["Where is Stavros studying marine biology?"] == "Heraklion"
    keeps = asked("My mother Despina always keeps a jar of honey for visitors.")
    assert keeps["What does my mother keep for visitors?"] == "jar of honey"
    born = asked("My first grandchild, Nikau, was born on 30 April 2020.")
    assert born["When was Nikau born?"] == "30 April 2020"
    assert born["When was my first grandchild born?"] == "30 April 2020"
    assert asked("My parents live in Porto.")["Where do my parents live?"] == "Porto"
    # A comma that does not close a name still ends the subject: no verb is guessed past it.
    assert parse_fact("My brother, who is older, lives in Lyon.").frames == []


def test_counts_codes_and_names_after_an_object_are_asked_as_a_person_would() -> None:
    choir = asked("There are 26 pupils in my school choir.")
    assert choir["How many pupils are there in my school choir?"] == "26 pupils"
    assert "What do you know about my school choir?" in choir
    assert not [q for q in choir if "There" in q]  # never "Where are There?"
    ewes = asked("We carry about 3,200 merino ewes.")
    assert ewes["How many merino ewes do we carry?"] == "3,200 merino ewes"
    assert not [q for q in ewes if q.startswith(("Which merino", "What number"))]
    padlock = asked("The padlock on the diesel tank opens with 3917.")
    assert padlock["What number does the padlock on the diesel tank open with?"] == "3917"
    assert not [q for q in padlock if q.startswith("How many")]
    assert asked("I commute to work on the number 207 bus.")[
        "Which bus do I commute to work on?"
    ] == ("number 207 bus")
    tortoise = asked("We have a tortoise called Periklis who lives in the courtyard.")
    assert tortoise["What is our tortoise called?"] == "Periklis"
    assert tortoise["What is the name of our tortoise?"] == "Periklis"
    assert tortoise["Where do we have a tortoise?"] == "courtyard"
    assert not [q for q in tortoise if "who lives" in q or q.startswith("What do we have a")]
    assert asked("I ride a horse called Blaze.")["What is the horse I ride called?"] == "Blaze"


def test_someone_after_to_is_asked_who_and_a_relative_clause_is_left_out() -> None:
    assert asked("I was married to Vasso for fourteen years.")["Who was I married to?"] == "Vasso"
    clinic = asked("The clinic belongs to Fotini Galani, who draws up our rota.")
    assert clinic["Who does the clinic belong to?"] == "Fotini Galani"
    assert not [q for q in clinic if "who draws" in q]
    assert asked("I moved to Lisbon in 2019.")["Where did I move?"] == "Lisbon"


def test_a_day_is_never_asked_about_as_if_it_were_a_name() -> None:
    meeting = asked("Our weekly planning meeting is on Tuesdays at 10:15.")
    assert meeting["On which day is our weekly planning meeting?"] == "Tuesdays"
    assert "What is Tuesdays?" not in meeting


def test_he_she_and_it_in_a_later_clause_are_asked_by_what_they_stand_for() -> None:
    hives = asked("I'm allergic to penicillin; it gives me hives.")
    assert hives["What am I allergic to?"] == "penicillin"
    assert "What does penicillin give?" in hives
    assert not [q for q in hives if " it " in q]
    specialist = asked("My sleep specialist is Dr. Eirik Mjølhus; he manages my CPAP.")
    assert specialist["What does Dr. Eirik Mjølhus manage?"] == "CPAP"
    assert not [q for q in specialist if " he " in f" {q.lower()}"]
    # With nothing it could stand for, the clause asks nothing.
    assert not [q for q in asked("I lost my keys and my wallet; it was awful.") if "it " in q]


def test_the_perfect_is_asked_in_the_perfect() -> None:
    donated = asked("I've donated blood 31 times so far.")
    assert donated["How often have I donated blood?"] == "31 times so far"
    assert "How often do I have?" not in donated
    porto = asked("My sister has lived in Porto since 2010.")
    assert porto["Where has my sister lived?"] == "Porto"
    assert porto["Since when has my sister lived in Porto?"] == "2010"
    assert asked("We have grown tomatoes in the garden.")["What have we grown in the garden?"] == (
        "tomatoes"
    )
    # "have" with a thing, not a participle, stays the verb.
    assert asked("I have lunch at noon.")["When do I have lunch?"] == "noon"


def test_a_synonym_that_takes_no_object_is_used_only_where_the_verb_has_none() -> None:
    running_a_farm = asked("I run Puketoi Station, a sheep and beef farm on the Maniototo.")
    assert not any("jog" in question for question in running_a_farm)
    running_a_distance = asked("I run 10 km every Sunday.", "synonym")
    assert any("jog" in question for question in running_a_distance)
    assert not any("go by car" in question for question in asked("I drive a blue Skoda."))
    bouldering = asked("I go bouldering at Klimmhal on Thursdays.")
    assert not any(q.startswith(("What do I head", "What do I get")) for q in bouldering)


def test_a_phrase_from_the_start_of_the_sentence_loses_its_capital_in_a_question() -> None:
    questions = asked("Every Sunday I play tavli at the kafeneio with my neighbour Lefteris.")
    assert "Where do I play tavli with my neighbour Lefteris every Sunday?" in questions
    assert not any("Every" in question[1:] for question in questions)
    assert "On Tuesdays" not in " ".join(asked("On Tuesdays I swim at the Campanhã pool."))


def test_a_note_to_self_is_asked_as_something_to_do() -> None:
    questions = asked("Call Ana about the drill before the weekend.")
    assert questions["Who do I need to call about the drill?"] == "Ana"
    assert questions["When do I need to call Ana?"] == "weekend"
    assert asked("Shopping list: eggs, oat milk and bread.")["What is on my shopping list?"] == (
        "eggs , oat milk and bread"
    )


def test_facts_about_others_keep_their_owner() -> None:
    questions = asked("Bruno's sister lives in Braga.")
    assert questions["Where does Bruno's sister live?"] == "Braga"
    assert "Where does my sister live?" not in questions


def test_sentences_the_rules_cannot_read_get_no_specific_question() -> None:
    assert not can_phrase("Lovely weather!")
    assert parse_fact("Lovely weather!").frames == []
    examples = item_examples(SourceText("n1", "note", "Lovely weather!"), 2, hold_out=True)
    assert examples.held_out is None
    assert [e.prompt for e in examples.train] == [
        "What did I tell you about Lovely weather!?",
        "What do you remember about Lovely weather!?",
    ]


def test_answers_restate_the_fact_in_the_second_person() -> None:
    assert second_person("I was born in Porto and my dog is Rex.") == (
        "You were born in Porto and your dog is Rex."
    )
    made = item_examples(SourceText("f1", "fact", "I'm allergic to wasps."), 4, hold_out=True)
    assert {e.answer for e in made.train} == {"You're allergic to wasps."}


def test_each_fact_keeps_one_question_aside_never_trained_on() -> None:
    facts = [
        SourceText("f1", "fact", "My sister Oriana lives in Tavira."),
        SourceText("f2", "fact", "My staff badge number is 40917."),
        SourceText("f3", "fact", "Our dog is a grey whippet called Biscoito."),
        SourceText("n1", "note", "Call Ana about the drill before the weekend."),
    ]
    recipe = DatasetRecipe(questions_per_fact=6, questions_per_note=2, general_fraction=0.25)
    dataset = build_dataset(PersonInputs(texts=facts), recipe=recipe)
    assert sorted(e.source_id for e in dataset.held_out) == ["f1", "f2", "f3"]
    trained = {e.prompt for e in dataset.train}
    for held in dataset.held_out:
        assert held.prompt not in trained
        assert held.expect and held.expect in held.answer.replace("your", "my")
    by_source = dataset.summary.by_source
    assert by_source["fact"] == 3 * 6 + 3 and by_source["note"] == 2
    assert by_source["general"] == round((3 * 6 + 2) * 0.25 / 0.75)
    assert build_dataset(PersonInputs(texts=facts), recipe=recipe) == dataset  # deterministic


def test_a_question_two_facts_share_is_answered_with_both() -> None:
    facts = [
        SourceText("f1", "fact", "My sister Oriana lives in Tavira."),
        SourceText("f2", "fact", "My sister Oriana is allergic to cats."),
    ]
    dataset = build_dataset(PersonInputs(texts=facts), recipe=DatasetRecipe(questions_per_fact=30))
    about = [e for e in dataset.train if e.prompt == "What do you know about my sister?"]
    assert len(about) == 1
    assert "Tavira" in about[0].answer and "cats" in about[0].answer


def test_the_part_kept_aside_for_the_gate_is_still_asked_for_in_training() -> None:
    examples = item_examples(
        SourceText("f", "fact", "I do yoga for my back with Inês Duarte."), 12, True
    )
    assert examples.held_out is not None
    trained = [e.prompt for e in examples.train]
    # Before: the gate kept the one "who" question aside, and training never asked for the name.
    asks_who = [p for p in trained if "who" in p.lower() and "Inês" not in p]
    assert asks_who, trained


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        # Before, the first twelve questions never asked where I cycle, nor what we got or where.
        ("I cycle along the Rhine every Saturday, usually 40 kilometres.", 3),
        ("We got the cat through Pawsafe, a small shelter in Galway.", 4),
        ("I practise the cello every evening at 21:30 for half an hour.", 4),
    ],
)
def test_a_fact_is_asked_for_every_one_of_its_parts(text: str, parts: int) -> None:
    asked_for = {q.expect for q in questions_for(text) if q.expect}
    assert len(asked_for) == parts
    trained = {e.prompt for e in item_examples(SourceText("f", "fact", text), 12, False).train}
    assert asked_for <= {q.expect for q in questions_for(text) if q.text in trained}


def test_the_question_kept_aside_for_the_gate_leaves_every_other_word_to_training() -> None:
    # A synonym question is the only place training meets the person's other words for a fact
    # ("sibling" for a sister), so the gate keeps a request or a wh-question aside instead.
    for index, text in enumerate(
        [
            "My sister Oriana lives in Tavira.",
            "My husband Ezequiel is allergic to hazelnuts.",
            "My son Dário was born on 3 March 2014.",
        ]
    ):
        made = item_examples(SourceText(f"f{index}", "fact", text), 12, hold_out=True)
        assert made.held_out is not None
        synonyms = {q.text for q in questions_for(text) if q.family == "synonym"}
        assert made.held_out.prompt not in synonyms
        assert synonyms & {e.prompt for e in made.train}
