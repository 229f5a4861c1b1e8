"""Read what a GGUF file says about itself: architecture, quantization, context, chat template."""

from __future__ import annotations

import mmap
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hub.errors import HubError

GGUF_MAGIC = b"GGUF"


class NotAGgufFileError(HubError, ValueError):
    """The file is missing, unreadable or not a GGUF model."""

    error_code = "invalid_model"


@dataclass(frozen=True)
class GgufInfo:
    """Metadata of one GGUF model file."""

    architecture: str
    display_name: str
    file_size: int
    quantization: str
    context_length: int
    chat_template: str | None
    bos_token: str | None
    eos_token: str | None

    @property
    def has_chat_template(self) -> bool:
        """True when the file carries a chat template."""
        return bool(self.chat_template)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for caching in the registry."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GgufInfo:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**data)


def check_gguf_magic(path: Path) -> None:
    """Raise NotAGgufFileError unless ``path`` is a readable file starting with the GGUF magic."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError as exc:
        raise NotAGgufFileError(f"{path} does not exist") from exc
    except IsADirectoryError as exc:
        raise NotAGgufFileError(f"{path} is a directory; give the path of a .gguf file") from exc
    except PermissionError as exc:
        raise NotAGgufFileError(
            f"{path} is not readable by this user; fix its permissions"
        ) from exc
    if magic != GGUF_MAGIC:
        raise NotAGgufFileError(
            f"{path} is not a GGUF model (it does not start with 'GGUF'); "
            "convert it with llama.cpp's convert_hf_to_gguf.py first"
        )


# GGUF value types, as numbered by the format; arrays hold one type.
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_WANTED_ARRAYS = {"tokenizer.ggml.tokens"}


class _HeaderReader:
    """Walks the key/value section of a GGUF file, skipping the big arrays it does not need."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        size = self.unpack("<Q")
        raw = self.data[self.offset : self.offset + size]
        self.offset += size
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        size = self.unpack("<Q")
        self.offset += size

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise ValueError(f"unknown value type {kind}")
        item_kind, count = self.unpack("<I"), self.unpack("<Q")
        if item_kind in _SCALARS and not keep:
            self.offset += struct.calcsize(_SCALARS[item_kind]) * count
            return None
        if item_kind == _STRING and not keep:
            for _ in range(count):
                self.skip_string()
            return None
        return [self.value(item_kind, keep) for _ in range(count)]


def read_gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (large arrays other than the vocabulary skipped)."""
    check_gguf_magic(path)
    try:
        with (
            path.open("rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            reader = _HeaderReader(data)
            reader.offset = 4
            version = reader.unpack("<I")
            if version < 2:
                raise ValueError(f"GGUF version {version} is too old")
            reader.unpack("<Q")  # tensor count
            metadata: dict[str, Any] = {}
            for _ in range(reader.unpack("<Q")):
                key = reader.string()
                metadata[key] = reader.value(reader.unpack("<I"), key in _WANTED_ARRAYS)
            return metadata
    except (struct.error, ValueError, OverflowError, IndexError, MemoryError) as exc:
        raise NotAGgufFileError(f"{path} is a damaged GGUF file: {exc}") from exc


def _token_text(metadata: dict[str, Any], key: str) -> str | None:
    token_id = metadata.get(key)
    tokens = metadata.get("tokenizer.ggml.tokens")
    if not isinstance(token_id, int) or not isinstance(tokens, list):
        return None
    return str(tokens[token_id]) if 0 <= token_id < len(tokens) else None


def _quantization_name(file_type: Any) -> str:
    from gguf import LlamaFileType

    if file_type is None:
        return "unknown"
    try:
        name: str = LlamaFileType(int(file_type)).name
    except ValueError:
        return f"type {file_type}"
    return name.removeprefix("MOSTLY_")


def read_gguf_info(path: Path) -> GgufInfo:
    """Parse the GGUF header of ``path``; raise NotAGgufFileError when it is not a model file."""
    metadata = read_gguf_metadata(path)
    architecture = str(metadata.get("general.architecture") or "unknown")
    context = metadata.get(f"{architecture}.context_length")
    template = metadata.get("tokenizer.chat_template")
    return GgufInfo(
        architecture=architecture,
        display_name=str(metadata.get("general.name") or path.stem),
        file_size=path.stat().st_size,
        quantization=_quantization_name(metadata.get("general.file_type")),
        context_length=int(context) if isinstance(context, int) else 2048,
        chat_template=template if isinstance(template, str) else None,
        bos_token=_token_text(metadata, "tokenizer.ggml.bos_token_id"),
        eos_token=_token_text(metadata, "tokenizer.ggml.eos_token_id"),
    )
