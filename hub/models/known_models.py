"""The curated table behind `hub models suggest`: instruction-tuned GGUF models worth pulling.

To update: add or replace a row, keep the file and quantization a person would pull (Q4_K_M is
the usual balance), take the size from the repository's file list, the licence and the quality
figure from the authors' own model card, report or release post (name the benchmark and where it
was published; a figure you could not check says so in `source`), and move TABLE_DATE. Quality
figures are the authors' own, for the instruction-tuned model, on different benchmarks across
families: they rank models of one family well and models of different families only roughly.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_DATE = "2026-12-02"


@dataclass(frozen=True)
class KnownModel:
    """One model a box may be advised to pull."""

    name: str
    repo: str
    pull: str  # what `hub models pull` is given: REPO:QUANT or REPO:FILE
    file_bytes: int  # every part of the GGUF file together
    parameters_b: float
    licence: str
    quality: str  # a published figure, with the benchmark
    source: str  # where the figure was published


KNOWN_MODELS: tuple[KnownModel, ...] = (
    # Sizes: the bartowski rows as their file pages give them (to the MB or 10 MB); the Qwen rows
    # were not checked against the repositories' file lists when the table was last verified.
    KnownModel(
        "Llama 3.2 1B Instruct",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        808_000_000,
        1.2,
        "Llama 3.2 Community License",
        "MMLU 49.3 (5-shot)",
        "Llama 3.2 model card, instruction-tuned table (meta-llama/llama-models)",
    ),
    KnownModel(
        "Qwen2.5 1.5B Instruct",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M",
        1_117_320_736,
        1.5,
        "Apache-2.0",
        "MMLU-redux 50.7",
        "Qwen2.5-LLM release post (Qwen blog, 2024-09-18), instruction-tuned table",
    ),
    KnownModel(
        "Llama 3.2 3B Instruct",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M",
        2_020_000_000,
        3.2,
        "Llama 3.2 Community License",
        "MMLU 63.4 (5-shot)",
        "Llama 3.2 model card, instruction-tuned table (meta-llama/llama-models)",
    ),
    KnownModel(
        "Qwen2.5 3B Instruct",
        "Qwen/Qwen2.5-3B-Instruct-GGUF",
        "Qwen/Qwen2.5-3B-Instruct-GGUF:Q4_K_M",
        2_100_000_000,
        3.1,
        "Qwen Research License (non-commercial)",
        "MMLU-redux 64.4",
        "Qwen2.5-LLM release post (Qwen blog, 2024-09-18), instruction-tuned table",
    ),
    KnownModel(
        "Phi-3.5 mini instruct",
        "bartowski/Phi-3.5-mini-instruct-GGUF",
        "bartowski/Phi-3.5-mini-instruct-GGUF:Q4_K_M",
        2_390_000_000,
        3.8,
        "MIT",
        "MMLU 69 (5-shot)",
        "microsoft/Phi-3.5-mini-instruct model card",
    ),
    KnownModel(
        "Qwen2.5 7B Instruct",
        "Qwen/Qwen2.5-7B-Instruct-GGUF",
        "Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M",
        4_680_000_000,
        7.6,
        "Apache-2.0",
        "MMLU-redux 75.4",
        "Qwen2.5-LLM release post (Qwen blog, 2024-09-18), instruction-tuned table",
    ),
    KnownModel(
        "Llama 3.1 8B Instruct",
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M",
        4_920_000_000,
        8.0,
        "Llama 3.1 Community License",
        "MMLU 69.4 (5-shot)",
        "Llama 3.1 model card, instruction-tuned table (meta-llama/llama-models)",
    ),
    KnownModel(
        "Qwen2.5 14B Instruct",
        "Qwen/Qwen2.5-14B-Instruct-GGUF",
        "Qwen/Qwen2.5-14B-Instruct-GGUF:Q4_K_M",
        8_990_000_000,
        14.7,
        "Apache-2.0",
        "MMLU-redux 80.0",
        "Qwen2.5-LLM release post (Qwen blog, 2024-09-18), instruction-tuned table",
    ),
)
