"""Link security units: sealed frames, the pairing exchange, and the pairing book's limits."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from devices.errors import ProtocolError
from devices.link_crypto import EphemeralKey, FrameOpener, FrameSealer, LinkKeys
from devices.pairing import PairingBook, PairingError, new_pairing_code
from devices.pake import DevicePake, HubPake
from devices.protocol import Hello


def link_pair() -> tuple[FrameSealer, FrameOpener]:
    device, hub = EphemeralKey(), EphemeralKey()
    stored = secrets.token_bytes(32)
    sent = LinkKeys.derive(device.shared(hub.public), stored, b"signed")
    got = LinkKeys.derive(hub.shared(device.public), stored, b"signed")
    assert sent == got
    return FrameSealer(sent.device_to_hub), FrameOpener(got.device_to_hub)


def test_sealed_frames_open_in_order_and_hide_their_content() -> None:
    sealer, opener = link_pair()
    text = '{"type":"sensor_batch","seq":1,"samples":[{"kind":"heart_rate","t":1,"v":64}]}'
    first, second = sealer.seal(text), sealer.seal(b"WN\x01audio")
    assert b"heart_rate" not in first and text.encode() not in first
    assert opener.open(first) == text
    assert opener.open(second) == b"WN\x01audio"


@pytest.mark.parametrize("attack", ["replay", "alter", "reorder", "clear", "other key", "short"])
def test_a_frame_replayed_altered_reordered_or_forged_is_refused(attack: str) -> None:
    sealer, opener = link_pair()
    first, second = sealer.seal("one"), sealer.seal("two")
    other_sealer, _ = link_pair()
    if attack == "replay":
        opener.open(first)
        forged: str | bytes = first
    elif attack == "alter":
        forged = first[:-1] + bytes([first[-1] ^ 1])
    elif attack == "reorder":
        forged = second
    elif attack == "clear":
        forged = '{"type":"ack","seq":9007199254740991}'
    elif attack == "other key":
        forged = other_sealer.seal("one")
    else:
        forged = b"\x00" * 5
    with pytest.raises(ProtocolError) as info:
        opener.open(forged)
    assert info.value.code == "frame_auth_failed"


def test_keys_differ_per_link_and_per_direction() -> None:
    shared, stored = secrets.token_bytes(32), secrets.token_bytes(32)
    one = LinkKeys.derive(shared, stored, b"link one")
    two = LinkKeys.derive(shared, stored, b"link two")
    assert one.device_to_hub != one.hub_to_device
    assert one.device_to_hub != two.device_to_hub


def test_a_low_order_link_key_is_refused() -> None:
    with pytest.raises(ProtocolError, match="X25519"):
        EphemeralKey().shared(bytes(32))


def test_the_same_code_gives_both_sides_the_same_secret() -> None:
    device = DevicePake("042917", "watch-1")
    hub = HubPake("042917", "watch-1", device.message)
    keys = device.accept(hub.message, hub.confirm)
    assert keys is not None
    assert hub.secret_if_confirmed(keys.device_confirm) == keys.secret
    assert len(keys.secret) == 32
    # The code itself never appears in what crosses the network.
    assert b"042917" not in device.message + hub.message + hub.confirm + keys.device_confirm


def test_a_wrong_code_confirms_nothing_on_either_side() -> None:
    device = DevicePake("042917", "watch-1")
    hub = HubPake("042918", "watch-1", device.message)
    assert device.accept(hub.message, hub.confirm) is None
    assert hub.secret_if_confirmed(bytes(32)) is None
    # An exchange bound to another device id does not match either.
    other = HubPake("042917", "watch-2", device.message)
    assert DevicePake("042917", "watch-1").accept(other.message, other.confirm) is None


def test_garbage_pairing_messages_confirm_nothing() -> None:
    hub = HubPake("042917", "watch-1", b"\xff" * 33)
    assert hub.secret_if_confirmed(hub.confirm) is None
    assert DevicePake("042917", "watch-1").accept(b"\x00" * 33, bytes(32)) is None


def waiting(device_id: str, nonce: bytes = b"n" * 16) -> Hello:
    return Hello(device_id, "watch", "W", (), nonce, b"k" * 32, b"p" * 33)


async def answer_attempts(book: PairingBook, device_id: str, code: str) -> None:
    """A waiting link that confirms only ``code`` (what the real link does, without a socket)."""
    request = book.open(waiting(device_id))
    while True:
        attempt = await request.attempts.get()
        attempt.result.set_result(b"s" * 32 if attempt.code == code else None)


def test_a_second_link_under_a_waiting_id_is_refused_not_raced() -> None:
    async def scenario() -> None:
        book = PairingBook()
        book.open(waiting("w"))
        with pytest.raises(ProtocolError) as info:
            book.open(waiting("w", b"m" * 16))
        assert info.value.code == "pairing_busy"
        assert [hello.nonce for hello in book.waiting()] == [b"n" * 16]

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_only_so_many_links_may_wait_to_pair() -> None:
    async def scenario() -> None:
        book = PairingBook(max_waiting=3)
        for index in range(3):
            book.open(waiting(f"w{index}"))
        with pytest.raises(ProtocolError) as info:
            book.open(waiting("w3"))
        assert info.value.code == "hub_busy"

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_wrong_codes_are_limited_then_the_request_is_dropped() -> None:
    async def scenario() -> None:
        book = PairingBook(max_wrong_codes=3)
        code = new_pairing_code()
        wrong = "999999" if code != "999999" else "000000"
        link = asyncio.create_task(answer_attempts(book, "w", code))
        await asyncio.sleep(0)
        with pytest.raises(PairingError, match="2 tries left"):
            await book.approve("w", wrong)
        with pytest.raises(PairingError, match="1 tries left"):
            await book.approve("w", wrong)
        with pytest.raises(PairingError, match="restart pairing"):
            await book.approve("w", wrong)
        with pytest.raises(PairingError, match="not waiting to pair") as info:
            await book.approve("w", code)
        assert info.value.http_status == 404
        link.cancel()

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_the_right_code_hands_over_the_secret_once() -> None:
    async def scenario() -> None:
        book = PairingBook()
        link = asyncio.create_task(answer_attempts(book, "w", "111111"))
        await asyncio.sleep(0)
        request, secret = await book.approve("w", " 111111 ")
        assert secret == b"s" * 32 and request.device_id == "w"
        assert not book.is_waiting("w")
        link.cancel()

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_a_link_that_never_answers_gives_a_clear_error() -> None:
    async def scenario() -> None:
        book = PairingBook(answer_timeout=0.05)
        book.open(waiting("silent"))
        with pytest.raises(PairingError, match="stopped answering") as info:
            await book.approve("silent", "123456")
        assert info.value.http_status == 409
        assert not book.is_waiting("silent")

    asyncio.run(asyncio.wait_for(scenario(), 5))
