"""Read what a GGUF file says about itself: architecture, quantization, context, chat template."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"


class NotAGgufFileError(ValueError):
    """The file is missing, unreadable or not a GGUF model."""


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


def _field_value(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def _token_text(reader: Any, key: str) -> str | None:
    token_id = _field_value(reader, key)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if token_id is None or tokens is None:
        return None
    try:
        text: str = tokens.contents(int(token_id))
    except (IndexError, ValueError):
        return None
    return text


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
    from gguf import GGUFReader

    check_gguf_magic(path)
    try:
        reader = GGUFReader(str(path), "r")
    except Exception as exc:  # the reader raises many types on a damaged file
        raise NotAGgufFileError(f"{path} is a damaged GGUF file: {exc}") from exc
    architecture = str(_field_value(reader, "general.architecture") or "unknown")
    context = _field_value(reader, f"{architecture}.context_length")
    return GgufInfo(
        architecture=architecture,
        display_name=str(_field_value(reader, "general.name") or path.stem),
        file_size=path.stat().st_size,
        quantization=_quantization_name(_field_value(reader, "general.file_type")),
        context_length=int(context) if context is not None else 2048,
        chat_template=_field_value(reader, "tokenizer.chat_template"),
        bos_token=_token_text(reader, "tokenizer.ggml.bos_token_id"),
        eos_token=_token_text(reader, "tokenizer.ggml.eos_token_id"),
    )
