"""Sentence vectors straight from transformers, for model folders that need nothing more.

A sentence-transformers folder whose modules are a transformer, a mean or first-token pooling
and an optional normalization (the packaged all-MiniLM-L6-v2 is one) is encoded here the way
sentence-transformers encodes it: the text stripped, the same tokenizer and truncation, the same
pooling, so the vectors are the same. It spares every start importing sentence-transformers
(about 3 seconds of scikit-learn and scipy on 2 cores) before memory can be searched. Any other
folder is left to sentence-transformers itself (memory/embedder.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
# Keys of sentence_bert_config.json this encoder honours; any other (tokenizer or model
# arguments) leaves the folder to sentence-transformers.
_KNOWN_SETTINGS = {"max_seq_length", "do_lower_case"}


@dataclass(frozen=True)
class EncoderLayout:
    """How a folder's texts become vectors: its pooling, truncation and casing."""

    pooling: str  # "mean" or "cls"
    max_seq_length: int
    lower_case: bool


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _pooling(folder: Path, module: dict[str, Any]) -> str | None:
    config = _read_json(folder / str(module.get("path", "")) / "config.json")
    chosen = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
    if len(chosen) != 1 or config.get("include_prompt", True) is not True:
        return None
    return _POOLINGS.get(chosen[0])


def _has_default_prompt(folder: Path) -> bool:
    path = folder / "config_sentence_transformers.json"
    if not path.exists():
        return False
    config = _read_json(path)
    return bool(config.get("default_prompt_name")) or bool(config.get("prompts"))


def read_layout(folder: Path) -> EncoderLayout | None:
    """The folder's layout when this module encodes it exactly as sentence-transformers would;
    None for any other folder (more modules, another pooling, prompts, tokenizer arguments)."""
    try:
        modules = _read_json(folder / "modules.json")
        types = [module.get("type") for module in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        if modules[0].get("path", "") != "" or _has_default_prompt(folder):
            return None
        pooling = _pooling(folder, modules[1])
        settings = _read_json(folder / "sentence_bert_config.json")
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if pooling is None or not isinstance(settings, dict) or set(settings) - _KNOWN_SETTINGS:
        return None
    length = settings.get("max_seq_length")
    if not isinstance(length, int) or length <= 0:
        return None
    return EncoderLayout(pooling, length, bool(settings.get("do_lower_case", False)))


class TransformerEncoder:
    """A folder read by ``read_layout``, loaded on the CPU with transformers alone."""

    def __init__(self, folder: Path, layout: EncoderLayout) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.layout = layout
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder)).eval()
        self.dimension = int(self.model.config.hidden_size)

    def _prepared(self, text: str) -> str:
        text = str(text).strip()
        return text.lower() if self.layout.lower_case else text

    def _batch(self, texts: list[str]) -> Vectors:
        torch = self._torch
        tokens = self.tokenizer(
            texts,
            padding=True,
            truncation="longest_first",
            max_length=self.layout.max_seq_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self.model(**tokens, return_dict=True).last_hidden_state
            if self.layout.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = tokens["attention_mask"].unsqueeze(-1).expand(hidden.size()).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
            unit = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(unit.numpy(), dtype=np.float32)

    def encode(self, texts: Sequence[str], batch_size: int) -> Vectors:
        """Unit-length vectors, one row per text, batched longest first (less padding)."""
        prepared = [self._prepared(text) for text in texts]
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i]))
        out = np.zeros((len(prepared), self.dimension), dtype=np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start : start + max(1, batch_size)]
            out[chunk] = self._batch([prepared[i] for i in chunk])
        return out

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read (it truncates past its maximum)."""
        return len(self.tokenizer.tokenize(text))
