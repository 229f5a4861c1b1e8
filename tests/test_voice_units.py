"""Voice and perception parts on their own, with the real packaged models: wake phrase, sentence
cutting, voice activity segmentation, eSpeak NG, OCR, frame fingerprints, speech frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.errors import ProtocolError
from devices.media import MediaFrame, SpeechFrame, decode_media, decode_speech
from devices.perception.ocr import TextReader, frame_hash, hash_distance, text_similarity
from devices.perception.pcm import SAMPLE_RATE, float_to_pcm16
from devices.perception.speech import EspeakSynthesizer, SpeechError, split_sentences
from devices.perception.speech_to_text import SpeechModelError, Transcription, check_model_dir
from devices.perception.vad import SpeechSegmenter, Utterance
from devices.perception.vad_process import SileroProcess
from devices.sim.glasses import render_text
from hub.voice.assistant import complete_sentences
from hub.voice.audio_pipeline import AudioPipeline, HeardUtterance
from hub.voice.camera_pipeline import CameraPipeline
from hub.voice.satellite_store import MAX_DISCOVERED, SatelliteStore, UnknownSatelliteError
from hub.voice.transcripts import TranscriptKeeper
from hub.voice.wake import only_wake_phrase, request_after_wake_phrase


@pytest.fixture(scope="module")
def voice() -> EspeakSynthesizer:
    return EspeakSynthesizer(words_per_minute=150)


def test_wake_phrase_starts_a_request_and_nothing_else() -> None:
    assert request_after_wake_phrase("Hey hub, where are my keys?", "hey hub") == (
        "where are my keys?"
    )
    assert request_after_wake_phrase("Hey Herb. What's on my list?", "hey hub") == (
        "What's on my list?"
    )
    assert request_after_wake_phrase("Hey, how are you doing today?", "hey hub") is None
    assert request_after_wake_phrase("I said hey hub to it", "hey hub") is None
    assert request_after_wake_phrase("Hey hub.", "hey hub") is None  # nothing asked yet
    assert request_after_wake_phrase("Okay walker, lights on", "okay walker") == "lights on"
    assert only_wake_phrase("Hey, hub!", "hey hub") and only_wake_phrase("Hey Herb.", "hey hub")
    assert not only_wake_phrase("Hey hub, lights on", "hey hub")
    assert not only_wake_phrase("Hello there", "hey hub")


def test_answers_are_cut_into_sentences_as_they_stream() -> None:
    assert complete_sentences("It weighs 3.5 kg. The next") == (["It weighs 3.5 kg."], "The next")
    assert complete_sentences("One!\nTwo? Three") == (["One!", "Two?"], "Three")
    long = "The keys are in the blue drawer next to the fridge, and the"
    assert complete_sentences(long) == (
        ["The keys are in the blue drawer next to the fridge,"],
        "and the",
    )
    assert complete_sentences("Yes, I") == ([], "Yes, I")
    assert split_sentences("**Keys** are in the drawer. 1. Check it\n- ok") == [
        "Keys are in the drawer.",
        "Check it",
        "ok",
    ]


def test_espeak_speaks_pcm16_at_16_khz(voice: EspeakSynthesizer) -> None:
    pcm = voice.synthesize("Hello from the hub.")
    assert len(pcm) % 2 == 0
    assert 0.5 < len(pcm) / (2 * SAMPLE_RATE) < 3.0
    assert voice.synthesize("  ** ") == b""
    with pytest.raises(SpeechError, match="no voice 'xx-nowhere'"):
        EspeakSynthesizer("xx-nowhere")
    EspeakSynthesizer("en-us")  # a bad voice leaves the library usable


def _feed(segmenter: SpeechSegmenter, pcm: bytes, t0: float) -> list[Utterance]:
    found: list[Utterance] = []
    for offset in range(0, len(pcm), 3200):
        found += segmenter.feed(pcm[offset : offset + 3200], t0 + offset / 32000)
    return found


def test_speech_is_cut_at_silences_and_noise_is_not_speech(
    voice: EspeakSynthesizer, request: pytest.FixtureRequest
) -> None:
    silence = b"\0" * 32000
    first, second = voice.synthesize("Good morning."), voice.synthesize("See you at noon.")
    vad = SileroProcess()  # in a child: this test process may have loaded llama.cpp already
    request.addfinalizer(vad.close)
    segmenter = SpeechSegmenter(vad.detector())
    found = _feed(segmenter, silence + first + silence + second + silence, 100.0)
    assert [u.ended_by for u in found] == ["silence", "silence"]
    assert 100.7 < found[0].start < 101.0 and found[0].end < found[1].start
    rng = np.random.default_rng(3)
    hiss = float_to_pcm16(rng.normal(0, 0.1, 3 * SAMPLE_RATE).astype(np.float32))
    assert _feed(segmenter, hiss, 200.0) == [] and segmenter.flush() == []
    # A stream that stops mid-sentence: what was said so far comes out when it is flushed.
    assert _feed(segmenter, silence + first[: len(first) // 2 // 2 * 2], 300.0) == []
    assert [u.ended_by for u in segmenter.flush()] == ["stream_end"]
    # A hole in the stream ends the utterance before it.
    assert _feed(segmenter, silence + first[: len(first) // 2 // 2 * 2], 400.0) == []
    assert [u.ended_by for u in _feed(segmenter, silence, 410.0)] == ["gap"]


def test_a_whisper_folder_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SpeechModelError, match="HUB_VOICE_WHISPER_MODEL"):
        check_model_dir(tmp_path)


@pytest.mark.slow
def test_printed_text_is_read_with_its_spaces_and_near_duplicates_spotted() -> None:
    reader = TextReader(threads=1)
    seen = reader.read(render_text(("Meeting room Atlas", "Budget review at 3")))
    assert seen.lines == ("Meeting room Atlas", "Budget review at 3")
    assert reader.read(render_text(())).lines == ()
    a, b = render_text(("Bakery",), seed=1), render_text(("Bakery",), seed=1)
    assert hash_distance(frame_hash(a), frame_hash(b)) == 0
    assert hash_distance(frame_hash(a), frame_hash(render_text(("Wifi password",)))) > 3
    assert text_similarity("Open until 8 p m", "open until 8 pm") == 1.0
    assert text_similarity("Platform 4", "Pharmacy") < 0.8


def test_push_to_talk_and_speech_frames_round_trip() -> None:
    frame = MediaFrame("audio", 7, 1_763_900_000.0, b"\0\0" * 10, talk="end")
    assert decode_media(frame.to_wire()).talk == "end"
    bad = MediaFrame("audio", 8, 1_763_900_000.0, b"\0\0", talk="maybe")
    with pytest.raises(ProtocolError, match="talk") as caught:
        decode_media(bad.to_wire())
    assert caught.value.code == "invalid_field" and caught.value.seq == 8
    spoken = SpeechFrame("reply_1", 2, 1_763_900_000.0, b"\1\0" * 4, "Hi.", final=True)
    assert decode_speech(spoken.to_wire()) == spoken
    with pytest.raises(ProtocolError):
        decode_speech(MediaFrame("audio", 1, 1_763_900_000.0, b"").to_wire())


def test_utterances_share_a_conversation_until_a_long_silence() -> None:
    keeper = TranscriptKeeper(None, conversation_gap=120)
    first = keeper.conversation_for("buds", 1000.0, 1003.0)
    assert keeper.conversation_for("buds", 1100.0, 1104.0) == first  # 97 s later
    assert keeper.conversation_for("glasses", 1101.0, 1102.0) != first  # another device
    later = keeper.conversation_for("buds", 1300.0, 1302.0)  # 196 s of silence
    assert later != first and later.startswith("conv_")


def test_a_satellite_approval_holds_for_its_address_only(tmp_path: Path) -> None:
    store = SatelliteStore.open(tmp_path)
    try:
        assert store.seen("kitchen", "kitchen", "192.168.1.20", 10700).status == "discovered"
        assert store.set_status("kitchen", "approved").status == "approved"
        assert store.seen("kitchen", "kitchen", "192.168.1.20", 10700).status == "approved"
        moved = store.seen("kitchen", "kitchen", "192.168.1.66", 10700)
        assert moved.status == "discovered" and moved.approved_at is None
        assert store.set_status("kitchen", "revoked").status == "revoked"
        assert store.seen("kitchen", "kitchen", "192.168.1.20", 10700).status == "revoked"
        added = store.add("desk", "10.0.0.5", 10700)
        assert added.id == "10.0.0.5:10700" and added.status == "approved"
        with pytest.raises(UnknownSatelliteError, match="hub voice satellites"):
            store.set_status("nowhere", "approved")
    finally:
        store.close()


class ScriptedEngines:
    """Stands in for Whisper: hands out the texts it was given, one per utterance."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.prompts: list[str | None] = []
        self.lengths: list[int] = []  # bytes of audio of each utterance

    def transcribe(self, pcm: bytes, prompt: str | None = None, urgent: bool = False) -> Any:
        self.prompts.append(prompt)
        self.lengths.append(len(pcm))
        return Transcription(self.texts.pop(0), (), "en", len(pcm) / 32000)


def loud(seconds: float) -> bytes:
    return float_to_pcm16(np.full(int(seconds * SAMPLE_RATE), 0.3, dtype=np.float32))


def test_the_pipeline_tells_requests_from_talk_and_waits_after_a_bare_wake_phrase() -> None:
    engines = ScriptedEngines(
        "We need bread.", "Hey hub.", "What time is it?", "Hey hub, lights on", "Call mum"
    )
    asked: list[HeardUtterance] = []
    pipeline = AudioPipeline(
        engines,  # type: ignore[arg-type]
        TranscriptKeeper(None),
        asked.append,
        "hey hub",
        detector_factory=lambda: lambda chunk: 1.0,  # anything not quiet is speech
    )
    quiet = b"\0" * 32000
    t = 1000.0
    for piece in (quiet, loud(1), quiet, loud(0.5), quiet, loud(1), quiet, loud(1), quiet):
        pipeline._take("buds", MediaFrame("audio", 1, t, piece))
        t += len(piece) / 32000
    assert [heard.request for heard in asked] == ["What time is it?", "lights on"]
    assert [heard.request for heard in pipeline.heard] == [None, *[h.request for h in asked]]
    # Push-to-talk: a request as it is, no wake phrase, no prompt; it ends on "end".
    pipeline._take("buds", MediaFrame("audio", 2, t, loud(0.5), talk="hold"))
    pipeline._take("buds", MediaFrame("audio", 3, t + 0.5, b"", talk="end"))
    assert asked[-1].request == "Call mum" and asked[-1].utterance.ended_by == "push_to_talk"
    assert engines.prompts[-1] is None and engines.prompts[0] == "Hey hub,"


def test_camera_frames_that_arrive_together_are_all_accounted_for() -> None:
    pipeline = CameraPipeline(engines=None, store=None)  # type: ignore[arg-type]  # never read
    frames = [MediaFrame("camera", seq, float(seq), b"jpeg") for seq in range(3)]
    pipeline.frames_stored("glasses-1", frames)  # three in one batch: the newest is read
    pipeline.frames_stored("glasses-1", [MediaFrame("camera", 3, 3.0, b"jpeg")])
    counts = pipeline.counts
    assert counts.frames == 4
    # Every frame but the one waiting to be read is accounted for as superseded.
    assert counts.superseded == 3 and list(pipeline._pending) == ["glasses-1"]


def test_push_to_talk_held_forever_is_cut_off_at_its_byte_limit() -> None:
    engines = ScriptedEngines("What is on my list", "Lights off")
    asked: list[HeardUtterance] = []
    pipeline = AudioPipeline(
        engines,  # type: ignore[arg-type]
        TranscriptKeeper(None),
        asked.append,
        "hey hub",
        detector_factory=lambda: lambda chunk: 1.0,
        max_talk_bytes=2 * 32000,  # two seconds
    )
    heard = engines.lengths
    # A device holds the button for ten seconds: one request of the first two, nothing more.
    for i in range(20):
        pipeline._take("buds", MediaFrame("audio", i + 1, 1000.0 + i / 2, loud(0.5), talk="hold"))
    assert heard == [2 * 32000] and asked[-1].request == "What is on my list"
    assert pipeline.counts.talks_cut_off == 1
    assert len(pipeline._streams["buds"].talk) == 0  # nothing piles up while it is held
    pipeline._take("buds", MediaFrame("audio", 21, 1010.0, loud(0.5), talk="end"))
    assert heard == [2 * 32000]  # the release ends the dropped hold; no second request
    # The next press is a request of its own again.
    pipeline._take("buds", MediaFrame("audio", 22, 1020.0, loud(0.5), talk="hold"))
    pipeline._take("buds", MediaFrame("audio", 23, 1020.5, b"", talk="end"))
    assert heard[-1] == 16000 and asked[-1].request == "Lights off"


def test_audio_waiting_to_be_transcribed_is_bounded_in_bytes() -> None:
    pipeline = AudioPipeline(
        ScriptedEngines(),  # type: ignore[arg-type]
        TranscriptKeeper(None),
        lambda heard: None,
        "hey hub",
        detector_factory=lambda: lambda chunk: 1.0,
        max_waiting_bytes=1_000_000,
    )
    big = b"\0" * 400_000  # the worker is not started: everything queued stays waiting
    pipeline.frames_stored("buds", [MediaFrame("audio", seq, 1000.0, big) for seq in range(10)])
    assert pipeline._queue.qsize() == 2 and pipeline.counts.dropped_frames == 8


def test_satellites_announced_in_a_flood_are_not_all_kept(tmp_path: Path) -> None:
    store = SatelliteStore.open(tmp_path)
    try:
        store.seen("kitchen", "kitchen", "192.168.1.20", 10700)
        store.set_status("kitchen", "approved")
        store.add("desk", "10.0.0.5", 10700)
        for i in range(MAX_DISCOVERED + 50):
            store.seen(f"fake-{i}", f"fake-{i}", "192.168.1.99", 10000 + i)
        ids = {satellite.id for satellite in store.all()}
        # The person's own satellites stay; of the finds, only the newest are kept.
        assert {"kitchen", "10.0.0.5:10700", f"fake-{MAX_DISCOVERED + 49}"} <= ids
        assert "fake-0" not in ids and len(ids) == MAX_DISCOVERED + 2
    finally:
        store.close()


def test_satellites_found_but_unseen_for_a_month_are_forgotten(tmp_path: Path) -> None:
    now = [1_763_900_000.0]
    store = SatelliteStore(tmp_path / "voice.db", clock=lambda: now[0])
    try:
        store.seen("old", "old", "192.168.1.30", 10700)
        store.seen("kitchen", "kitchen", "192.168.1.20", 10700)
        store.set_status("kitchen", "approved")
        now[0] += 31 * 86_400
        store.seen("new", "new", "192.168.1.40", 10700)
        assert {satellite.id for satellite in store.all()} == {"kitchen", "new"}
    finally:
        store.close()
