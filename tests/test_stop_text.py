"""Stop strings cut the answer exactly, even when split across tokens."""

from __future__ import annotations

from hub.engine.stop_text import StopTextFilter


def run(stops: tuple[str, ...], pieces: list[str]) -> tuple[str, bool]:
    filt = StopTextFilter(stops)
    out = "".join(filt.feed(piece) for piece in pieces) + filt.flush()
    return out, filt.stopped


def test_no_stops_passes_everything() -> None:
    assert run((), ["Hel", "lo"]) == ("Hello", False)


def test_stop_split_across_pieces_is_never_shown() -> None:
    assert run(("<|im_end|>",), ["Hi", " there<|im", "_end|>", "more"]) == ("Hi there", True)


def test_partial_match_that_turns_out_not_to_be_a_stop_is_released() -> None:
    assert run(("STOP",), ["ST", "ART", " now"]) == ("START now", False)


def test_earliest_of_several_stops_wins() -> None:
    assert run(("\nUser:", "###"), ["a ### b \nUser: c"]) == ("a ", True)


def test_held_back_prefix_is_flushed_at_the_end() -> None:
    assert run(("\nUser:",), ["line\nUs"]) == ("line\nUs", False)
