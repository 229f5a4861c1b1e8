"""Reading what an app uploads: JSON with finite numbers only, or a clear 4xx saying why not."""

from __future__ import annotations

import json
import math

from hub.errors import HubError


class MalformedUploadError(HubError):
    """An upload that is not what the endpoint takes (not JSON, wrong shape or types); nothing
    of it was stored. The message names the place in the body."""

    http_status = 400
    error_code = "malformed_upload"


class UploadTooLargeError(HubError):
    """An upload with more readings than one request may carry; nothing of it was stored."""

    http_status = 413
    error_code = "upload_too_large"


class UnsupportedEncodingError(HubError):
    """A body compressed in a way the hub does not read (it never offers compression)."""

    http_status = 415
    error_code = "unsupported_encoding"


def _no_constant(name: str) -> float:
    raise MalformedUploadError(f"the body holds {name}, which is not a number; send finite numbers")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedUploadError(f"the body holds {text}, too large to be a reading")
    return value


def load_upload_json(body: bytes, content_encoding: str = "") -> object:
    """The JSON value of an upload; NaN, Infinity and overflowing numbers are refused, since
    Python's JSON reader would otherwise take them as floats."""
    encoding = content_encoding.strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedEncodingError(
            f"the body is sent with Content-Encoding {encoding!r}; send it uncompressed"
        )
    if not body.strip():
        raise MalformedUploadError("the body is empty; send the readings as JSON")
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError as exc:
        raise MalformedUploadError(f"the body is not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise MalformedUploadError(
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise MalformedUploadError("the body nests too deeply to be readings") from exc
    except ValueError as exc:  # an integer of thousands of digits
        raise MalformedUploadError(f"the body holds a number the hub cannot read ({exc})") from exc


def number(value: object) -> float | None:
    """``value`` as a float when it is a JSON number (never a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        as_float = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return as_float if math.isfinite(as_float) else None
