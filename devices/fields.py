"""Strict readers for fields of a decoded frame, each failure a ProtocolError naming the fix."""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from devices.errors import BAD_SEQUENCE, INVALID_FIELD, ProtocolError

MAX_SEQ = 2**53 - 1
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _where(kind: str, name: str) -> str:
    return f"{kind}.{name}"


def require(obj: dict[str, Any], kind: str, name: str) -> Any:
    """The field's value, or an error saying it is missing."""
    if name not in obj:
        raise ProtocolError(INVALID_FIELD, f"{_where(kind, name)} is missing; add it")
    return obj[name]


def get_str(obj: dict[str, Any], kind: str, name: str, max_len: int = 200) -> str:
    """A string field of at most ``max_len`` characters."""
    value = require(obj, kind, name)
    if not isinstance(value, str):
        raise ProtocolError(
            INVALID_FIELD, f"{_where(kind, name)} must be a string, got {type(value).__name__}"
        )
    if len(value) > max_len:
        raise ProtocolError(
            INVALID_FIELD, f"{_where(kind, name)} is {len(value)} characters; at most {max_len}"
        )
    return value


def get_int(obj: dict[str, Any], kind: str, name: str, low: int, high: int) -> int:
    """An integer field within [low, high] (booleans are not integers here)."""
    value = require(obj, kind, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(
            INVALID_FIELD, f"{_where(kind, name)} must be an integer, got {value!r:.40}"
        )
    if not low <= value <= high:
        raise ProtocolError(
            INVALID_FIELD, f"{_where(kind, name)} is {value}; it must be from {low} to {high}"
        )
    return value


def get_number(obj: dict[str, Any], kind: str, name: str, low: float, high: float) -> float:
    """A finite number within [low, high]."""
    return check_number(require(obj, kind, name), _where(kind, name), low, high)


def check_number(value: Any, where: str, low: float, high: float) -> float:
    """``value`` as a float when it is a finite number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(INVALID_FIELD, f"{where} must be a number, got {value!r:.40}")
    number = float(value) if low <= value <= high else math.nan  # no float of a huge int
    if not math.isfinite(number) or not low <= number <= high:
        raise ProtocolError(
            INVALID_FIELD, f"{where} is {value!r:.40}; it must be from {low} to {high}"
        )
    return number


def get_bool(obj: dict[str, Any], kind: str, name: str) -> bool:
    """A JSON true or false."""
    value = require(obj, kind, name)
    if not isinstance(value, bool):
        raise ProtocolError(INVALID_FIELD, f"{_where(kind, name)} must be true or false")
    return value


def get_bytes(obj: dict[str, Any], kind: str, name: str, low: int, high: int) -> bytes:
    """A base64 field decoding to ``low``..``high`` bytes."""
    text = get_str(obj, kind, name, max_len=4 * high)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(INVALID_FIELD, f"{_where(kind, name)} is not valid base64") from exc
    if not low <= len(raw) <= high:
        raise ProtocolError(
            INVALID_FIELD, f"{_where(kind, name)} holds {len(raw)} bytes; send {low} to {high}"
        )
    return raw


def get_seq(obj: dict[str, Any], kind: str) -> int:
    """The frame's sequence number: an integer from 1 to 2^53-1."""
    value = obj.get("seq")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQ:
        raise ProtocolError(
            BAD_SEQUENCE, f"{kind}.seq must be an integer from 1 to 2^53-1, got {value!r:.40}"
        )
    return value


def get_device_id(obj: dict[str, Any], kind: str) -> str:
    """A device id: 1-64 of letters, digits, dot, underscore and dash."""
    value = get_str(obj, kind, "device_id", max_len=64)
    if not DEVICE_ID_PATTERN.match(value):
        raise ProtocolError(
            INVALID_FIELD,
            f"{kind}.device_id {value!r} may only hold 1-64 of A-Z a-z 0-9 . _ -",
        )
    return value


def b64(raw: bytes) -> str:
    """Standard base64 text of ``raw``."""
    return base64.b64encode(raw).decode("ascii")
