"""The Omi pendant's audio: codec ids, notification headers, frames reassembled, and PCM16,
PCM8, mu-law and Opus decoded to 16 kHz PCM16 (fixtures from Omi's public protocol notes:
a 3-byte header of a little-endian counter and the piece's index within its frame)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from devices.ble.omi import (
    CODECS,
    FrameAssembler,
    OmiAudioDecoder,
    OmiAudioError,
    codec_for,
    opus_decoder,
    read_notification,
)


def notification(counter: int, index: int, payload: bytes) -> bytes:
    return bytes([counter & 0xFF, counter >> 8 & 0xFF, index]) + payload


def tone(samples: int, start: int = 0, hz: float = 440.0, rate: int = 16000) -> bytes:
    n = np.arange(start, start + samples)
    return (np.sin(2 * np.pi * hz * n / rate) * 8000).astype("<i2").tobytes()


def pieces(frames: list[bytes], mtu_payload: int = 248, counter: int = 0) -> list[bytes]:
    """Frames cut into notifications the way the pendant sends them."""
    out = []
    for frame in frames:
        for index, at in enumerate(range(0, len(frame), mtu_payload)):
            out.append(notification(counter, index, frame[at : at + mtu_payload]))
            counter = (counter + 1) % 65536
    return out


def test_codec_ids_from_the_protocol() -> None:
    assert codec_for(b"\x00").name == "pcm16"
    assert codec_for(bytearray(b"\x01")).name == "pcm8"
    assert codec_for(b"\x14").name == "opus"
    assert codec_for(21).name == "opus_fs320"
    assert {c.id for c in CODECS.values()} == {0, 1, 10, 11, 20, 21}
    with pytest.raises(OmiAudioError, match=r"codec id 99.*20 \(opus\)"):
        codec_for(b"\x63")
    with pytest.raises(OmiAudioError, match="empty"):
        codec_for(b"")


def test_the_header_is_a_little_endian_counter_and_an_index() -> None:
    note = read_notification(bytes([0x34, 0x12, 0x01, 0xAA, 0xBB]))
    assert (note.counter, note.index, note.payload) == (0x1234, 1, b"\xaa\xbb")
    with pytest.raises(OmiAudioError, match="3-byte header"):
        read_notification(b"\x00\x00\x00")


def test_the_protocol_pages_example_320_bytes_in_two_notifications() -> None:
    # 160 PCM16 samples: 251 bytes (3 + 248) then 75 bytes (3 + 72), as the page describes.
    frames = [tone(160, 160 * i) for i in range(3)]
    notes = pieces(frames)
    assert [len(n) for n in notes[:2]] == [251, 75]
    decoder = OmiAudioDecoder(codec_for(0))
    pcm = b"".join(decoder.feed(n) for n in notes) + decoder.flush()
    assert pcm == b"".join(frames)
    assert decoder.frames.lost == 0


def test_pieces_sharing_a_counter_are_taken_as_one_frame_too() -> None:
    frame = tone(160)
    same_counter = [notification(7, 0, frame[:248]), notification(7, 1, frame[248:])]
    assembler = FrameAssembler()
    assert [f for n in same_counter for f in assembler.feed(n)] == []
    assert assembler.flush() == [frame]


def test_a_frame_missing_a_piece_is_dropped_and_the_rest_kept() -> None:
    frames = [tone(160, 160 * i) for i in range(4)]
    notes = pieces(frames)
    del notes[3]  # the second piece of the second frame
    assembler = FrameAssembler()
    done = [f for n in notes for f in assembler.feed(n)] + assembler.flush()
    assert done == [frames[0], frames[2], frames[3]]
    assert assembler.lost == 1


def test_a_frame_whose_end_went_missing_is_dropped() -> None:
    frames = [tone(160, 160 * i) for i in range(3)]
    notes = pieces(frames)
    del notes[1]  # the last piece of the first frame: the next frame's start shows the gap
    assembler = FrameAssembler()
    done = [f for n in notes for f in assembler.feed(n)] + assembler.flush()
    assert done == [frames[1], frames[2]]
    assert assembler.lost == 1


def test_the_counter_wraps_after_65535() -> None:
    frames = [tone(160, 160 * i) for i in range(3)]
    notes = pieces(frames, counter=65534)
    assembler = FrameAssembler()
    assert [f for n in notes for f in assembler.feed(n)] + assembler.flush() == frames


def test_a_stream_joined_mid_frame_starts_at_the_next_frame() -> None:
    frames = [tone(160, 160 * i) for i in range(2)]
    notes = pieces(frames)[1:]
    assembler = FrameAssembler()
    assert [f for n in notes for f in assembler.feed(n)] + assembler.flush() == [frames[1]]


def test_pcm8_is_unsigned_8_bit_samples_widened_to_16_bits() -> None:
    decoder = OmiAudioDecoder(codec_for(1))
    decoder.feed(notification(0, 0, bytes([128, 255, 0, 192])))
    pcm = np.frombuffer(decoder.flush(), dtype="<i2")
    assert pcm.tolist() == [0, 127 * 256, -128 * 256, 64 * 256]


def test_mulaw_follows_g711_and_8_khz_is_raised_to_16_khz() -> None:
    decoder = OmiAudioDecoder(codec_for(10))
    decoder.feed(notification(0, 0, bytes([0xFF, 0x7F, 0x00, 0x80])))
    assert np.frombuffer(decoder.flush(), dtype="<i2").tolist() == [0, 0, -32124, 32124]
    slow = OmiAudioDecoder(codec_for(11))
    slow.feed(notification(0, 0, bytes([0xFF] * 80)))
    assert len(slow.flush()) == 160 * 2  # 80 samples at 8 kHz are 160 at 16 kHz


def test_an_odd_pcm16_frame_is_dropped_and_counted() -> None:
    decoder = OmiAudioDecoder(codec_for(0))
    decoder.feed(notification(0, 0, b"\x01\x02\x03"))
    assert decoder.flush() == b""
    assert decoder.bad_frames == 1


def encoded(frame_samples: int, count: int) -> tuple[list[bytes], bytes]:
    """Real Opus packets (libopus through opuslib) of a tone, and the tone."""
    import opuslib

    encoder = opuslib.Encoder(16000, 1, opuslib.APPLICATION_RESTRICTED_LOWDELAY)
    source = [tone(frame_samples, frame_samples * i) for i in range(count)]
    return [encoder.encode(frame, frame_samples) for frame in source], b"".join(source)


@pytest.mark.parametrize(("codec_id", "frame_samples"), [(20, 160), (21, 320)])
def test_opus_frames_decode_to_16_khz_pcm16(codec_id: int, frame_samples: int) -> None:
    packets, source = encoded(frame_samples, 25)
    decoder = OmiAudioDecoder(codec_for(codec_id))
    pcm = b"".join(decoder.feed(n) for n in pieces(packets)) + decoder.flush()
    assert len(pcm) == len(source)
    heard = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    said = np.frombuffer(source, dtype="<i2").astype(np.float64)
    # The codec delays the tone a few milliseconds; past that it is the same tone.
    spectrum = np.abs(np.fft.rfft(heard[len(heard) // 2 :]))
    peak_hz = np.argmax(spectrum) * 16000 / (len(heard) - len(heard) // 2)
    assert abs(peak_hz - 440) < 10
    assert 0.5 < np.std(heard[1000:]) / np.std(said[1000:]) < 1.5
    assert decoder.bad_frames == 0


def test_a_broken_opus_frame_is_dropped_not_raised() -> None:
    packets, _ = encoded(320, 3)
    decoder = OmiAudioDecoder(codec_for(21))
    notes = pieces([packets[0], b"\xff\xff\xff\xff", packets[2]])
    pcm = b"".join(decoder.feed(n) for n in notes) + decoder.flush()
    assert decoder.bad_frames == 1
    assert len(pcm) == 2 * 320 * 2


def test_without_a_working_opus_decoder_opus_is_refused_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opuslib", None)  # as if it were not installed
    with pytest.raises(OmiAudioError, match=r"opuslib.*libopus.*PCM codec"):
        opus_decoder(16000)
    with pytest.raises(OmiAudioError, match="libopus"):
        OmiAudioDecoder(codec_for(20))
    assert OmiAudioDecoder(codec_for(0)).feed(notification(0, 0, b"\x00\x00")) == b""
