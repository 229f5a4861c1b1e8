"""Text in camera frames: rapidocr-onnxruntime (packaged PP-OCR models) plus near-duplicate
tests (a perceptual hash of the frame, and similarity of the text read)."""

from __future__ import annotations

import difflib
import io
import logging
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image

logger = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.6
HASH_SIDE = 16
# Two character boxes further apart than this share of the line's height hold a space; the
# recognizer itself drops most spaces between words.
WORD_GAP = 0.3


@dataclass(frozen=True)
class SeenText:
    """Lines of text read in one image, top to bottom, and their mean confidence."""

    lines: tuple[str, ...]
    confidence: float

    @property
    def text(self) -> str:
        """All lines, one per line."""
        return "\n".join(self.lines)


def frame_hash(jpeg: bytes) -> int:
    """A 256-bit difference hash (16 x 16): frames of a still view get hashes a few bits
    apart. Text is a small part of a frame, so this only spots near-identical frames; the text
    read decides the rest."""
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.BILINEAR)
        pixels = small.tobytes()
    bits = 0
    width = HASH_SIDE + 1
    for row in range(HASH_SIDE):
        for col in range(HASH_SIDE):
            left, right = pixels[row * width + col], pixels[row * width + col + 1]
            bits = (bits << 1) | int(left > right)
    return bits


def hash_distance(a: int, b: int) -> int:
    """How many bits two frame hashes differ in."""
    return (a ^ b).bit_count()


def text_similarity(a: str, b: str) -> float:
    """0 (nothing alike) to 1 (same words), ignoring case and spacing."""
    # Characters, not words: OCR splits and joins words differently from frame to frame.
    left, right = "".join(a.lower().split()), "".join(b.lower().split())
    if not left and not right:
        return 1.0
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()


def _with_spaces(text: str, boxes: list[Any]) -> str:
    if len(boxes) != len(text) or not text:
        return text
    height = max(float(box[2][1]) for box in boxes) - min(float(box[0][1]) for box in boxes)
    out = text[0]
    for index in range(1, len(text)):
        gap = float(boxes[index][0][0]) - float(boxes[index - 1][1][0])
        if gap > WORD_GAP * height and text[index] != " " and out[-1] != " ":
            out += " "
        out += text[index]
    return out


def _rows(found: list[tuple[float, float, float, str]]) -> list[str]:
    """Join pieces that sit on the same row (left to right), rows top to bottom."""
    rows: list[list[tuple[float, float, float, str]]] = []
    for piece in sorted(found, key=lambda item: item[0]):
        top, bottom = piece[0], piece[1]
        middle = (top + bottom) / 2
        for row in rows:
            if row[0][0] <= middle <= row[0][1]:
                row.append(piece)
                break
        else:
            rows.append([piece])
    return [" ".join(piece[3] for piece in sorted(row, key=lambda p: p[2])) for row in rows]


class TextReader:
    """RapidOCR, loaded once; one image at a time."""

    def __init__(self, threads: int = 2) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        self._lock = threading.Lock()

    def read(self, image: bytes) -> SeenText:
        """The text in an image (JPEG or PNG bytes); no lines when there is none."""
        with self._lock:
            result, _ = self._ocr(image, return_word_box=True)
        found: list[tuple[float, float, float, str]] = []
        scores: list[float] = []
        for entry in result or []:
            box, text, score = entry[0], str(entry[1]), float(entry[2])
            if score < MIN_CONFIDENCE or not text.strip():
                continue
            words = entry[3] if len(entry) > 3 else []
            top = min(float(point[1]) for point in box)
            bottom = max(float(point[1]) for point in box)
            left = min(float(point[0]) for point in box)
            found.append((top, bottom, left, _with_spaces(text.strip(), list(words or []))))
            scores.append(score)
        lines = tuple(_rows(found))
        confidence = sum(scores) / len(scores) if scores else 0.0
        return SeenText(lines, confidence)
