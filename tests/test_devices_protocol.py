"""Device protocol units: codec round trips, strict validation, challenge-response, pairing."""

from __future__ import annotations

import json
import secrets

import pytest

from devices.errors import ProtocolError
from devices.link_auth import (
    VerifierKeys,
    auth_message,
    check_proof,
    check_server_signature,
    make_proof,
    server_signature,
)
from devices.media import MAX_BINARY_FRAME, MediaFrame, decode_media
from devices.outbox import DeviceState
from devices.protocol import (
    MAX_TEXT_FRAME,
    Ack,
    Challenge,
    ErrorMessage,
    Hello,
    PairingConfirm,
    PairingOffer,
    PairingRetry,
    Proof,
    Welcome,
    decode,
    encode,
)
from devices.samples import Sample, SensorBatch, Status

T = 1_763_900_000.0


def hello(**overrides: object) -> dict[str, object]:
    wire = Hello("watch-1", "watch", "W", ("heart_rate",), b"n" * 16, b"k" * 32).to_wire()
    wire.update(overrides)
    return wire


def refused(frame: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        if isinstance(frame, bytes) and not frame.startswith(b"{"):
            decode_media(frame)
        else:
            decode(frame)
    return info.value


def test_every_message_round_trips() -> None:
    messages = [
        Hello("watch-1", "watch", "W", ("heart_rate",), b"n" * 16, b"k" * 32, b"p" * 33),
        Hello("watch-1", "watch", "W", ("heart_rate",), b"n" * 16, b"k" * 32),
        PairingOffer(b"o" * 33, b"c" * 32),
        PairingConfirm(b"c" * 32),
        PairingRetry(b"r" * 33),
        Challenge(b"c" * 32, b"k" * 32),
        Proof(b"p" * 32),
        Welcome(7, b"w" * 32),
        Ack(9),
        ErrorMessage("bad_sequence", "send them in order", 3),
        SensorBatch.of(
            1,
            (
                Sample("heart_rate", T, 61.0),
                Sample("imu", T, (0.1, 0.2, 9.8, 0.0, 0.0, 0.1)),
                Sample("location", T, (38.7, -9.1)),
                Sample("glucose", T, 104.0),
            ),
        ),
        Status(2, T, 80, True),
    ]
    for message in messages:
        assert decode(encode(message)) == message


def series_frame(*series: object, seq: int = 5) -> str:
    return json.dumps({"type": "sensor_batch", "seq": seq, "series": list(series)})


def test_a_batch_reads_the_same_as_samples_or_as_series() -> None:
    rows = [
        {"kind": "heart_rate", "t": T, "v": 61},
        {"kind": "steps", "t": T, "v": 12},
        {"kind": "heart_rate", "t": T + 1, "v": 62.5},
        {"kind": "location", "t": T + 1, "v": [38.7, -9.1, 5]},
    ]
    from_rows = decode(json.dumps({"type": "sensor_batch", "seq": 5, "samples": rows}))
    from_series = decode(
        series_frame(
            {"kind": "heart_rate", "t": [T, T + 1], "v": [61, 62.5]},
            {"kind": "steps", "t": [T], "v": [12]},
            {"kind": "location", "t": [T + 1], "v": [[38.7, -9.1, 5]]},
        )
    )
    assert from_rows == from_series
    assert isinstance(from_series, SensorBatch) and from_series.count == 4
    assert sorted(from_series.samples, key=lambda s: (s.t, s.kind)) == [
        Sample("heart_rate", T, 61.0),
        Sample("steps", T, 12.0),
        Sample("heart_rate", T + 1, 62.5),
        Sample("location", T + 1, (38.7, -9.1, 5.0)),
    ]
    # What a device sends is the compact form, a third the size of the same samples one by one.
    assert '"series"' in encode(from_rows)
    assert len(encode(from_rows)) < len(json.dumps({"samples": rows}))


@pytest.mark.parametrize(
    ("series", "words"),
    [
        ([], "series must be a list of series"),
        (["hr"], "series[0] must be an object"),
        ([{"kind": "mood", "t": [T], "v": [1]}], "series[0].kind is 'mood'"),
        ([{"kind": ["heart_rate"], "t": [T], "v": [1]}], "series[0].kind"),
        ([{"kind": "heart_rate", "t": [T, T], "v": [60]}], "lists of the same length"),
        ([{"kind": "heart_rate", "t": T, "v": 60}], "lists of the same length"),
        ([{"kind": "heart_rate", "t": [], "v": []}], "holds no samples"),
        ([{"kind": "heart_rate", "t": [T, T], "v": [60, 900]}], "series[0].v[1] is 900"),
        ([{"kind": "heart_rate", "t": [T, 5], "v": [60, 61]}], "series[0].t[1] is 5"),
        ([{"kind": "heart_rate", "t": [T], "v": [True]}], "series[0].v[0] must be a number"),
        ([{"kind": "heart_rate", "t": [T], "v": [10**400]}], "series[0].v[0] is"),
        ([{"kind": "steps", "t": [T, T], "v": [3, 2.5]}], "v[1] must be a whole number"),
        ([{"kind": "imu", "t": [T], "v": [[1, 2]]}], "series[0].v[0] must be a list of 6"),
        ([{"kind": "heart_rate", "t": [T] * 600, "v": [60] * 600}] * 2, "1200 samples"),
    ],
)
def test_a_bad_series_says_which_value_is_wrong(series: list[object], words: str) -> None:
    error = refused(series_frame(*series, seq=7))
    assert (error.code, error.seq) == ("invalid_field", 7)
    assert words in error.message


def test_nan_and_infinity_are_refused_in_either_form() -> None:
    for value in ("NaN", "Infinity", "-Infinity"):
        frame = '{"type": "sensor_batch", "seq": 1, "series": [{"kind": "glucose", '
        error = refused(frame + f'"t": [{T}, {T}], "v": [100, {value}]}}]}}')
        assert "series[0].v[1]" in error.message
        rows = f'{{"type": "sensor_batch", "seq": 1, "samples": [{{"kind": "glucose", "t": {T}, '
        assert "samples[0].v" in refused(rows + f'"v": {value}}}]}}').message


def test_a_batch_needs_samples_or_series_but_not_both() -> None:
    both = json.dumps({"type": "sensor_batch", "seq": 1, "samples": [], "series": [], "extra": 1})
    assert "not both" in refused(both).message
    assert "not both" in refused('{"type": "sensor_batch", "seq": 1}').message


def test_media_frames_round_trip() -> None:
    audio = MediaFrame("audio", 5, T, b"\x00\x01" * 160)
    camera = MediaFrame("camera", 6, T, b"\xff\xd8jpeg", width=640, height=480)
    assert decode_media(audio.to_wire()) == audio
    assert decode_media(camera.to_wire()) == camera


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("{not json", "malformed_frame", "not valid JSON"),
        ("[1, 2]", "malformed_frame", "JSON object"),
        ('{"seq": 1}', "malformed_frame", "'type'"),
        ('{"type": "teleport"}', "unknown_type", "unknown message type 'teleport'"),
        (json.dumps(hello(protocol=9)), "unsupported_version", "speaks device protocol 2"),
        (json.dumps(hello(protocol=1)), "unsupported_version", "in the clear"),
        (json.dumps(hello(kind="toaster")), "invalid_field", "hello.kind"),
        (json.dumps(hello(device_id="a b")), "invalid_field", "device_id"),
        (json.dumps(hello(nonce="short")), "invalid_field", "hello.nonce"),
        (json.dumps(hello(pake="c2hvcnQ=")), "invalid_field", "hello.pake"),
        (json.dumps(hello(key="c2hvcnQ=")), "invalid_field", "hello.key"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "malformed_frame", "nested too deeply"),
        ("[" * 10_000 + "]" * 10_000, "malformed_frame", "nested too deeply"),
        ('{"type": "sensor_batch", "samples": []}', "bad_sequence", "seq must be an integer"),
        ('{"type": "sensor_batch", "seq": 0, "samples": []}', "bad_sequence", "from 1"),
        ('{"type": "sensor_batch", "seq": true, "samples": []}', "bad_sequence", "seq"),
        ('{"type": "sensor_batch", "seq": 1, "samples": []}', "invalid_field", "1 to 1000"),
        (
            '{"type": "sensor_batch", "seq": 1, "samples": [{"kind": "mood", "t": 1e9, "v": 1}]}',
            "invalid_field",
            "samples[0].kind",
        ),
        (
            '{"type": "sensor_batch", "seq": 1, "samples": '
            '[{"kind": "heart_rate", "t": 1.8e9, "v": "fast"}]}',
            "invalid_field",
            "must be a number",
        ),
        (
            '{"type": "sensor_batch", "seq": 1, "samples": '
            '[{"kind": "glucose", "t": 1.8e9, "v": 9000}]}',
            "invalid_field",
            "from 20",
        ),
        (
            '{"type": "sensor_batch", "seq": 1, "samples": '
            '[{"kind": "imu", "t": 1.8e9, "v": [1, 2]}]}',
            "invalid_field",
            "list of 6",
        ),
        (
            '{"type": "status", "seq": 4, "t": 1.8e9, "battery": 120, "charging": false}',
            "invalid_field",
            "status.battery",
        ),
    ],
)
def test_bad_text_frames_say_what_is_wrong(frame: str, code: str, words: str) -> None:
    error = refused(frame)
    assert error.code == code
    assert words in error.message


def test_errors_about_a_frame_carry_its_seq() -> None:
    error = refused(
        '{"type": "sensor_batch", "seq": 12, "samples": [{"kind": "spo2", "t": 1.8e9, "v": 3}]}'
    )
    assert error.seq == 12


def test_oversized_frames_are_refused() -> None:
    assert refused("x" * (MAX_TEXT_FRAME + 1)).code == "frame_too_large"
    big = MediaFrame("audio", 1, T, b"\x00" * MAX_BINARY_FRAME).to_wire()
    assert refused(big).code == "frame_too_large"


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (b"XX\x01\x00\x02{}", "'WN'"),
        (b"WN\x07\x00\x02{}", "layout version 7"),
        (b"WN\x01\x00\xff{}", "runs past"),
        (b"WN\x01\x00\x02[]", "JSON object"),
        (b"WN", "5-byte prefix"),
    ],
)
def test_bad_binary_frames_say_what_is_wrong(frame: bytes, words: str) -> None:
    error = refused(frame)
    assert error.code == "malformed_frame"
    assert words in error.message


def test_bad_media_headers() -> None:
    odd = MediaFrame("audio", 3, T, b"\x00\x01\x02").to_wire()
    assert "whole 16-bit samples" in refused(odd).message
    assert refused(odd).seq == 3
    png = MediaFrame("camera", 4, T, b"\x89PNG", width=1, height=1).to_wire()
    assert "JPEG" in refused(png).message


def test_challenge_response_needs_the_secret_not_the_stored_keys() -> None:
    secret = secrets.token_bytes(32)
    keys = VerifierKeys.from_secret(secret)
    message = auth_message("watch-1", b"d" * 16, b"h" * 32, b"k" * 32, b"K" * 32)
    assert check_proof(keys, message, make_proof(secret, message))
    assert not check_proof(keys, message, make_proof(secrets.token_bytes(32), message))
    # A copy of the hub's keys is not enough to answer a challenge.
    assert not check_proof(keys, message, make_proof(keys.stored_key, message))
    other = auth_message("watch-1", b"d" * 16, b"x" * 32, b"k" * 32, b"K" * 32)
    assert not check_proof(keys, other, make_proof(secret, message))
    # A relay that swaps in its own link key changes what is signed: the proof is worthless.
    swapped = auth_message("watch-1", b"d" * 16, b"h" * 32, b"R" * 32, b"K" * 32)
    assert not check_proof(keys, swapped, make_proof(secret, message))
    assert check_server_signature(secret, message, server_signature(keys, message))


def test_outbox_survives_a_restart(tmp_path) -> None:
    state = DeviceState(tmp_path / "state.db")
    for _ in range(5):
        state.append(lambda seq: encode(Ack(seq)))
    state.drop_through(2)
    state.close()
    again = DeviceState(tmp_path / "state.db")
    assert [seq for seq, _ in again.pending()] == [3, 4, 5]
    assert again.append(lambda seq: b"bin") == 6
    assert again.pending(after=5) == [(6, b"bin")]
    again.close()
